"""The throttle's count in Redis: exact under concurrency, a sliding window, open when Redis is away."""

import threading
import uuid
from types import SimpleNamespace

from orders import throttles
from orders.throttles import ScopedRateThrottle


def _request(account_id: int = 1):
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=account_id))


def _view(monkeypatch, rate: str | None):
    """A view whose scope, of this test alone, has `rate`."""
    scope = f"test.{uuid.uuid4().hex}"
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, scope, rate)
    return SimpleNamespace(throttle_scope=scope)


def test_requests_at_once_never_get_past_the_rate(monkeypatch):
    view = _view(monkeypatch, "10/min")
    start, admitted = threading.Barrier(40), []

    def request() -> None:
        start.wait()
        admitted.append(ScopedRateThrottle().allow_request(_request(), view))

    threads = [threading.Thread(target=request) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert admitted.count(True) == 10


def test_a_refused_request_is_told_when_the_oldest_leaves_the_window(monkeypatch):
    view = _view(monkeypatch, "2/s")
    assert ScopedRateThrottle().allow_request(_request(), view)
    assert ScopedRateThrottle().allow_request(_request(), view)

    refused = ScopedRateThrottle()
    assert not refused.allow_request(_request(), view)
    assert 0 < refused.wait() <= 1
    # Another account has its own allowance.
    assert ScopedRateThrottle().allow_request(_request(2), view)


def test_requests_are_let_through_while_redis_is_away(monkeypatch, settings, caplog):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    view = _view(monkeypatch, "1/min")
    throttles._take_script.cache_clear()
    try:
        assert all(ScopedRateThrottle().allow_request(_request(), view) for _ in range(3))
    finally:
        throttles._take_script.cache_clear()
    assert "throttle not applied, Redis unreachable" in caplog.text


def test_a_scope_without_a_rate_is_not_throttled(monkeypatch):
    view = _view(monkeypatch, None)

    assert all(ScopedRateThrottle().allow_request(_request(), view) for _ in range(5))
