"""Structured logs: JSON lines, and every line about an order carries its id, in web and worker."""

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def json_lines(lines: list[str]) -> list[dict]:
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue  # daphne's access log and Celery's banner are not log records
    return parsed


def test_the_lines_of_one_order_from_web_and_worker_share_its_id(live):
    order_id = live.place()["orderId"]
    live.wait_terminal(order_id)

    web = [line for line in json_lines(live.web.lines) if line.get("order_id") == order_id]
    worker = [line for line in json_lines(live.worker.lines) if line.get("order_id") == order_id]

    assert any(line["message"].startswith("order placed") for line in web)
    assert {"order moved to routing (seq 2)", "order moved to confirmed (seq 5)"} <= {
        line["message"] for line in worker
    }
    assert all({"time", "level", "logger", "message"} <= set(line) for line in web + worker)
