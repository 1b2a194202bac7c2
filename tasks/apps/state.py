"""The one way the bundled apps publish their state: a JSON file rewritten atomically on every change.

Tests, evaluators and oracles read it (a reader sees the old file or the new one, never half of one);
it is the app's own account of what happened, independent of what an agent claims.
"""

from __future__ import annotations

import json
import os


def write_state(path: str | os.PathLike, state: dict) -> None:
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)
