"""The recorder's view of the accessibility tree: a snapshot per screen state, read while it is shown.

A step's target must be named from the screen *as it was before the action*. Pixels are kept by the
capture thread (``agent.record.frames``); the accessibility tree cannot be read later from a
picture — by the time the labelling worker gets to a click on "Select", the page it was on is gone.
And it cannot be read at the input event either: a click's press and release arrive together, and
the app has often redrawn before a query could be answered.

So the tree is read *ahead*: whenever the capture thread sees a new picture and it has stayed on
screen for ``quiet`` seconds (one capture interval: the app finished drawing), ``TreeWatcher`` asks
for a snapshot of the tree and files it under that picture. A step then takes the snapshot filed
under its pinned "before" picture (``for_picture``), and only if it was asked for before the event.
A picture that differs from the last snapshotted one only in a small patch (a blinking caret, a typed
character: nothing moved) shares that snapshot, so a focused field does not cost a read per blink.

The reads run in a child process (``agent.record.label_runner.ProcessRunner``, at nice +5): a snapshot
of a 250-node Chromium page is 40–150 ms of D-Bus traffic and Python decoding, which on a thread of
the recorder would hold the GIL against the capture thread. Without an accessibility bus (or with
``--no-elements``) there is no watcher and steps are named from pixels alone (the visual parse, in
the labeller).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.record.frames import FrameHistory
from agent.screen import Frame

#: A picture that differs from the snapshotted one in a box at most this big (px²) and this tall
#: shares its snapshot (a caret, a typed character).
SMALL_AREA = 1600
SMALL_HEIGHT = 40


class TreeUnavailable(RuntimeError):
    """No accessibility bus answers on this desktop (the message says why)."""


def tree_reader(display: str | None = None) -> Callable[[], tuple[tuple, list]]:
    """Built in the watcher's child process: ``read() -> (elements, windows)``, the showing elements
    of every application and the top-level windows (box, title) they were read against."""
    from agent.elements.a11y import A11ySource

    src = A11ySource(display)
    if not src.available:
        raise TreeUnavailable(src.unavailable or "no accessibility bus")

    def read() -> tuple[tuple, list]:
        elements = tuple(src.snapshot())
        try:
            windows = list(src.x_windows())
        except Exception:  # noqa: BLE001 - the windows only decide what the visual parse skips
            windows = []
        return elements, windows

    return read


@dataclass(frozen=True)
class TreeSnapshot:
    """The tree as read for one picture: ``asked`` (monotonic) is when the read began."""

    elements: tuple
    windows: list
    asked: float
    took: float


def small_change(a: Frame, b: Frame) -> bool:
    """True when two frames differ only inside a small box (see ``SMALL_AREA``)."""
    if a.image.size != b.image.size or (a.left, a.top) != (b.left, b.top):
        return False
    x = np.asarray(a.image.convert("L"), dtype=np.int16)
    y = np.asarray(b.image.convert("L"), dtype=np.int16)
    diff = np.abs(x - y) > 8
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    if rows.size == 0:
        return True
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    return h <= SMALL_HEIGHT and h * w <= SMALL_AREA


class TreeWatcher(threading.Thread):
    """Reads the tree for each new picture in ``history`` through ``runner`` (a ``ProcessRunner`` of
    ``tree_reader``); see the module docstring. ``reads`` / ``shared`` / ``slowest_s`` are figures for
    the recording's status."""

    def __init__(self, history: FrameHistory, runner, *, quiet: float = 0.05, keep: int = 32,
                 timeout: float = 5.0) -> None:
        super().__init__(name="record-tree", daemon=True)
        self.history, self.runner, self.quiet, self.timeout = history, runner, quiet, timeout
        self.reads = self.shared = 0
        self.slowest_s = 0.0
        self.error: str | None = None
        self._by_picture: dict[float, TreeSnapshot] = {}
        self._order: deque[float] = deque()
        self._keep = keep
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._last: tuple[Frame, TreeSnapshot] | None = None

    def run(self) -> None:
        handled = float("-inf")
        while not self._stop_event.wait(0.02):
            newest = self.history.newest()
            if newest is None:
                continue
            frame, first, _last = newest
            if first <= handled or time.monotonic() - first < self.quiet:
                continue
            handled = first
            if self._last is not None and small_change(self._last[0], frame):
                self._file(first, self._last[1])
                self.shared += 1
                continue
            asked = time.monotonic()
            try:
                elements, windows = self.runner.submit().result(timeout=self.timeout)
            except Exception as e:  # noqa: BLE001 - a hung or dead reader: steps fall back to pixels
                self.error = f"{type(e).__name__}: {e}"[:300]
                continue
            snap = TreeSnapshot(elements, windows, asked, time.monotonic() - asked)
            self.reads += 1
            self.slowest_s = max(self.slowest_s, snap.took)
            self._last = (frame, snap)
            self._file(first, snap)

    def _file(self, first: float, snap: TreeSnapshot) -> None:
        with self._lock:
            self._by_picture[first] = snap
            self._order.append(first)
            while len(self._order) > self._keep:
                self._by_picture.pop(self._order.popleft(), None)

    def for_picture(self, first_seen: float, event_t: float) -> TreeSnapshot | None:
        """The snapshot filed under the picture first captured at ``first_seen``, if it was asked for
        before ``event_t`` (a read that began after the action may show its effect)."""
        with self._lock:
            snap = self._by_picture.get(first_seen)
        return snap if snap is not None and snap.asked < event_t else None

    def stop(self) -> None:
        self._stop_event.set()
