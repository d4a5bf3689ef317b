"""The files clients run the engine with: docker-compose.yml and the Postman collection."""

import json
import re
import shlex
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
POSTMAN_FILE = ROOT / "Order_Execution_Engine.postman_collection.json"

APP_SERVICES = ["web", "worker", "beat", "flower"]
SERVICES = ["postgres", "redis", *APP_SERVICES]
BASE_URL = "{{baseUrl}}"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def collection() -> dict:
    return json.loads(POSTMAN_FILE.read_text())


def command_of(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def requests_in(items: list[dict]) -> list[dict]:
    """Every request of the collection, folders flattened."""
    found = []
    for item in items:
        if "item" in item:
            found += requests_in(item["item"])
        else:
            found.append(item)
    return found


def path_of(request: dict) -> str:
    """The request's path after {{baseUrl}}, without its query, with a real id for {{orderId}}."""
    url = request["request"]["url"]
    raw = url["raw"] if isinstance(url, dict) else url
    return raw.removeprefix(BASE_URL).split("?")[0].replace("{{orderId}}", str(uuid.uuid4()))


# --- docker-compose.yml -----------------------------------------------------------------------


def test_compose_defines_every_process_of_the_engine(compose):
    assert set(SERVICES) <= set(compose["services"])


@pytest.mark.parametrize(
    ("name", "program"),
    [
        ("web", ["daphne"]),
        ("worker", ["celery", "-A", "engine", "worker"]),
        ("beat", ["celery", "-A", "engine", "beat"]),
        ("flower", ["celery", "-A", "engine", "flower"]),
    ],
)
def test_compose_service_runs_its_program(compose, name, program):
    assert command_of(compose["services"][name])[: len(program)] == program


def test_web_serves_the_asgi_application_with_daphne(compose):
    assert command_of(compose["services"]["web"])[-1] == "engine.asgi:application"


def test_compose_worker_runs_ten_processes(compose):
    command = command_of(compose["services"]["worker"])
    assert "--concurrency" in command
    assert command[command.index("--concurrency") + 1] == "10"


def test_compose_migrates_the_database_before_the_app_starts(compose):
    services = compose["services"]
    migrations = {
        name for name, service in services.items() if command_of(service)[:3] == ["python", "manage.py", "migrate"]
    }
    assert migrations, "no service runs manage.py migrate"
    for name in ["web", "worker", "beat"]:
        depends_on = services[name]["depends_on"]
        waits_for = {dep for dep, rule in depends_on.items() if rule["condition"] == "service_completed_successfully"}
        assert migrations & waits_for, f"{name} may start before the migrations ran"


def test_every_long_running_compose_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # a one-shot job, such as the migrations, is done rather than healthy
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in SERVICES:
        assert compose["services"][name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_app_services_wait_for_healthy_postgres_and_redis(compose):
    for name in APP_SERVICES:
        depends_on = compose["services"][name]["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["redis"]["condition"] == "service_healthy", name


def test_app_services_get_their_configuration_from_the_environment(compose):
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["DATABASE_URL"] == "postgres://engine:engine@postgres:5432/engine", name
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert str(environment["DEBUG"]) == "0", name
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY"), name
        assert "ALLOWED_HOSTS" in environment, name


def test_compose_web_is_healthy_only_when_ready_to_serve_orders(compose):
    assert "http://127.0.0.1:8000/readyz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_compose_flower_requires_basic_auth_from_the_environment(compose):
    assert "--basic-auth=${FLOWER_BASIC_AUTH:?" in compose["services"]["flower"]["command"]


def test_compose_publishes_ports_on_loopback_only(compose):
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            published.append(name)
    assert {"web", "flower"} <= set(published)


# --- Postman collection -----------------------------------------------------------------------


def test_postman_collection_is_a_v2_1_collection_with_enough_requests(collection):
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert len(requests_in(collection["item"])) >= 10
    variables = {variable["key"]: variable["value"] for variable in collection["variable"]}
    assert variables["baseUrl"] == "http://127.0.0.1:8000"


def test_every_postman_request_targets_the_base_url(collection):
    for request in requests_in(collection["item"]):
        url = request["request"]["url"]
        raw = url["raw"] if isinstance(url, dict) else url
        assert raw.startswith(BASE_URL + "/"), request["name"]


def test_every_postman_request_path_exists_in_the_url_map(collection):
    from django.urls import Resolver404, resolve

    for request in requests_in(collection["item"]):
        path = path_of(request)
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{request['name']!r}: {path} matches no URL of the engine")


def operations_missing_from_the_schema(collection: dict) -> list[str]:
    """The collection's requests that are no operation of the engine's OpenAPI schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method.upper(), re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"))
        for path, methods in schema["paths"].items()
        for method in methods
    }
    missing = []
    for request in requests_in(collection["item"]):
        method, path = request["request"]["method"], path_of(request)
        # The schema does not describe itself.
        if path != "/api/schema/" and not any(method == m and p.match(path) for m, p in operations):
            missing.append(f"{request['name']!r}: {method} {path}")
    return missing


def test_every_postman_request_is_an_operation_of_the_openapi_schema(collection):
    assert operations_missing_from_the_schema(collection) == []


def test_the_schema_check_catches_a_renamed_endpoint(collection):
    renamed = json.loads(json.dumps(collection).replace("/cancel", "/abort").replace('"cancel"', '"abort"'))

    missing = operations_missing_from_the_schema(renamed)

    assert missing and all("/abort" in line for line in missing)


def test_every_postman_request_checks_its_response(collection):
    for request in requests_in(collection["item"]):
        scripts = [event["script"]["exec"] for event in request.get("event", []) if event["listen"] == "test"]
        assert any("pm.response.to.have.status" in "\n".join(lines) for lines in scripts), request["name"]


def test_stream_paths_in_the_postman_description_exist_in_the_websocket_routes(collection):
    from orders.routing import websocket_urlpatterns

    paths = re.findall(r"ws://127\.0\.0\.1:8000(/[^\s?`]*)", collection["info"]["description"])
    assert len(paths) >= 2, "the description names no WebSocket URL"
    for path in paths:
        # Matched the way the Channels URL router does: without the leading slash.
        route = path.replace("<id>", str(uuid.uuid4())).lstrip("/")
        assert any(pattern.pattern.match(route) for pattern in websocket_urlpatterns), path
