"""The background thread that runs side effects after commit: in order, waited for, never raising."""

import threading

from orders.background import run_in_background, wait_for_background


def test_side_effects_run_in_the_order_they_were_handed_over():
    ran: list[int] = []
    hold = threading.Event()
    run_in_background(hold.wait, 5)
    for number in range(50):
        run_in_background(ran.append, number)

    assert ran == []  # all of them wait behind the first
    hold.set()
    assert wait_for_background(5)
    assert ran == list(range(50))


def test_waiting_returns_false_past_its_timeout_and_true_once_done():
    release = threading.Event()
    run_in_background(release.wait, 5)

    assert wait_for_background(0.05) is False
    release.set()
    assert wait_for_background(5) is True


def test_a_failing_side_effect_is_logged_and_the_next_ones_still_run(caplog):
    ran: list[str] = []

    def broken() -> None:
        raise ConnectionError("redis away")

    run_in_background(broken)
    run_in_background(ran.append, "after")

    assert wait_for_background(5)
    assert ran == ["after"]
    assert "broken failed after commit" in caplog.text
    assert "redis away" in caplog.text


def test_side_effects_run_off_the_callers_thread():
    threads: list[str] = []
    run_in_background(lambda: threads.append(threading.current_thread().name))

    assert wait_for_background(5)
    assert threads[0].startswith("after-commit") and threads[0] != threading.current_thread().name
