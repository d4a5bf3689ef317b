"""`python -m bench.capture_sql TOKEN PATH...`: print, for each GET path, the SQL Django runs for it.

Run with the engine's environment; one JSON line per path: {"path", "status", "queries": [sql, ...]}, then
one for the count a new order runs against its account's cap: {"path": "count_open", "queries": [sql]},
its account a `%s` placeholder.
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engine.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.history import COUNT_OPEN  # noqa: E402
from orders.services import _count_open_sql  # noqa: E402


def main(token: str, paths: list[str]) -> None:
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    for path in paths:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.content[:300]!r}")
        print(
            json.dumps(
                {
                    "path": path,
                    "status": response.status_code,
                    "queries": [query["sql"] for query in captured.captured_queries],
                }
            )
        )
    print(json.dumps({"path": COUNT_OPEN, "queries": [_count_open_sql()]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
