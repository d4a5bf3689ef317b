"""One thread per process that runs the side effects of committed changes, in the order handed over.

A status move is followed by its publish and its metrics, each a round trip to Redis of about a
millisecond. Run on the mover's own thread, they stood between one step of an order and the next;
here they overlap the next step instead. They still run one at a time and in order, so an order's
events reach the channel layer in sequence, and a task waits for them before it ends.
"""

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_last: Future | None = None


def run_in_background(func: Callable[..., Any], *args: Any) -> None:
    """Run func(*args) on the process's background thread, after everything handed over before it.

    An error there is logged, never raised: the change it follows is committed already.
    """
    global _executor, _last
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="after-commit")
        _last = _executor.submit(_logged, func, args)


def wait_for_background(timeout: float | None = None) -> bool:
    """Wait until everything handed over so far has run; False if it took longer than `timeout` seconds."""
    with _lock:
        last = _last
    if last is None:
        return True
    try:
        last.result(timeout)
    except TimeoutError:
        return False
    return True


def _logged(func: Callable[..., Any], args: tuple) -> None:
    try:
        func(*args)
    except Exception:
        logger.exception("%s failed after commit", getattr(func, "__qualname__", func))


def _forget_after_fork() -> None:
    # A forked child has none of the parent's threads, and the lock may have been held by one of them.
    global _lock, _executor, _last
    _lock, _executor, _last = threading.Lock(), None, None


os.register_at_fork(after_in_child=_forget_after_fork)
