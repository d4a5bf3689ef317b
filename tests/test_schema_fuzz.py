"""The OpenAPI schema fuzzed against the running engine: every answer is documented and matches it."""

import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = 40
# Rules the schema cannot state, so schema-valid input may rightly get 400 here: tokenOut must
# differ from tokenIn, and the amount must be above 0 with no more decimals than tokenIn has.
CROSS_FIELD_RULES = {"POST /api/orders/execute", "GET /api/quotes"}


def auth(live) -> dict[str, str]:
    return {"Authorization": f"Token {live.token}"}


@pytest.fixture
def api_schema(live):
    schema = schemathesis.openapi.from_url(f"{live.base_url}/api/schema/", headers=auth(live), timeout=10)
    schema.config.update(base_url=live.base_url)
    # Every request carries the account's token (see the test); whether an operation refuses one
    # without it, or with a wrong one, is the `ignored_auth` check's job. A generated Authorization
    # header would be overridden by the real one, and a "missing" one would not be missing.
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, with_security_parameters=False)

    @schema.hook
    def filter_query(ctx, query) -> bool:
        # The API ignores query parameters it does not know, as HTTP APIs do (so a cache-busting
        # `?_=1` works), so one is no invalid input to be refused; the declared ones are fuzzed.
        known = {parameter.name for parameter in ctx.operation.query}
        return not query or set(query) <= known

    return schema


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # schemathesis 4.32 renames each operation's subtest through Node._nodeid, which pytest 9.2 no
    # longer has; without it every operation fails before sending a request.
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_answer_is_documented_and_matches_the_schema(case, live):
    excluded = [positive_data_acceptance] if case.operation.label in CROSS_FIELD_RULES else []
    # Sent as the caller's own credentials, so the auth checks also try each request without them.
    case.call_and_validate(headers=auth(live), excluded_checks=excluded)


def test_date_time_filters_take_any_utc_offset_and_year(live):
    # Found by the fuzzing above: PostgreSQL refused offsets beyond 15:59 with a 500.
    order_id = live.place()["orderId"]
    queries = {
        "createdAfter=0936-01-16T17:32:25.941619-20:55": [order_id],
        "createdBefore=0328-05-15T11:16:26%2B16:00": [],
        "createdAfter=0001-01-01T00:00:00%2B23:59": [order_id],
        "createdBefore=9999-12-31T23:59:59-23:59": [order_id],
        "createdAfter=9999-12-31T23:59:59-23:59": [],
    }

    answers = {query: live.http.get(f"/api/orders/?{query}") for query in queries}

    assert {query: response.status_code for query, response in answers.items()} == dict.fromkeys(queries, 200)
    assert {query: [o["orderId"] for o in response.json()["results"]] for query, response in answers.items()} == queries
