"""The one way the bundled apps publish their state: a JSON file rewritten atomically on every change.

Tests, evaluators and oracles read it (a reader sees the old file or the new one, never half of one);
it is the app's own account of what happened, independent of what an agent claims.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable


def write_state(path: str | os.PathLike, state: dict) -> None:
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def read_state(path: str | os.PathLike, pred: Callable[[dict], bool] = lambda s: True,
               timeout: float = 10.0) -> dict:
    """The app's latest state once ``pred`` holds; ``TimeoutError`` with the last state seen otherwise."""
    deadline = time.monotonic() + timeout
    last: dict | None = None
    while True:
        try:
            last = json.loads(open(path).read())
            if pred(last):
                return last
        except (FileNotFoundError, json.JSONDecodeError, KeyError, IndexError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"app state in {path} never matched within {timeout:g} s; last: {last}")
        time.sleep(0.03)
