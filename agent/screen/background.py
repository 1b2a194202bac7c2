"""One background thread for image work that can overlap a wait: encoding a screenshot while the screen
settles (``agent.steps.StepRunner``), shrinking it for the model's history while the action runs.

Pillow releases the GIL while it resizes and compresses, so on a machine with a spare core this work
costs the loop no wall time. One thread for the process, jobs in the order given: a job that needs an
earlier one's result can wait on it. A process forked after the thread started gets a thread of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pid = 0


def submit(fn: Callable, *args) -> Future:
    """Run ``fn(*args)`` on the image thread; the future holds its result or its exception."""
    global _pool, _pid
    with _lock:
        if _pool is None or _pid != os.getpid():
            _pool, _pid = ThreadPoolExecutor(1, thread_name_prefix="desk-agent-images"), os.getpid()
        return _pool.submit(fn, *args)
