"""A running tally for long commands: done/total, the pass rate so far and an ETA.

Why: ``agent eval`` on a suite takes minutes and used to print one line per finished task with no
idea of how far along it was or how long the rest would take. ``Tally`` keeps the count and turns
it into one short line; the command prints it next to each result. It knows nothing of tasks, so
the same class counts steps of a replay (``Tally(len(steps))``, ``line("steps", rate=False)``) or of
a model run against its step cap.

The ETA is the average wall time per finished item so far times the items left: with K workers
running at once, finished items arrive K times as fast, so the estimate includes the parallelism
without being told about it. It is shown once at least one item finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Tally:
    """Count finished items of a known total; ``line()`` says where things stand."""

    def __init__(self, total: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.total = total
        self.done = 0
        self.passed = 0
        self._clock = clock
        self._t0 = clock()

    def add(self, ok: bool = True) -> "Tally":
        """One more item finished (``ok``: it passed)."""
        self.done += 1
        self.passed += 1 if ok else 0
        return self

    @property
    def rate(self) -> float | None:
        """Pass rate so far (None before the first item)."""
        return self.passed / self.done if self.done else None

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._t0

    @property
    def eta_s(self) -> float | None:
        """Seconds until the rest is done at the pace so far (None before the first item; 0 at the end)."""
        if not self.done:
            return None
        left = max(0, self.total - self.done)
        return self.elapsed_s / self.done * left

    def line(self, noun: str = "tasks", *, rate: bool = True) -> str:
        """``3/10 tasks · 67% passed so far · ETA 1 min 20 s`` (``rate=False`` leaves the pass rate out)."""
        parts = [f"{self.done}/{self.total} {noun}"]
        if rate and self.rate is not None:
            parts.append(f"{self.rate * 100:.0f}% passed so far")
        eta = self.eta_s
        if eta is not None:
            parts.append(f"ETA {duration(eta)}" if self.done < self.total else f"took {duration(self.elapsed_s)}")
        return " · ".join(parts)
