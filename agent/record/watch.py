"""The recorder's view of the accessibility tree: a snapshot per screen state, read while it is shown.

A step's target must be named from the screen *as it was before the action*. Pixels are kept by the
capture thread (``agent.record.frames``); the accessibility tree cannot be read later from a
picture — by the time the labelling worker gets to a click on "Select", the page it was on is gone.
And it cannot be read at the input event either: a click's press and release arrive together, and
the app has often redrawn before a query could be answered.

So the tree is read *ahead*: whenever the capture thread sees a new picture and it has stayed on
screen for ``quiet`` seconds (one capture interval: the app finished drawing), ``TreeWatcher`` asks
for a snapshot of the tree and files it under that picture. A step takes the snapshot filed under its
pinned "before" picture (``for_picture``), and only if the read was over before the event (a read
still going on at a click may show its effect: a box already ticked). A picture that differs from the
last snapshotted one in a few pixels only (a blinking caret, a typed character, a hover ring: nothing
appeared or moved) shares that snapshot, so a focused field does not cost a read per blink.

An application's tree can lag its pixels (Chromium updates it asynchronously: a suggestion list
redrawn for "bru" was still the list for "b" in a read 50 ms later), so a read that began within
``settle`` seconds of the picture's change is repeated until two in a row agree (at most
``max_reads``), and the earlier of the two is filed. A step whose picture got no read of its own (the
person acted faster than a read) takes the newest read before its event (``before``) with the
picture it was read for; the labeller keeps the target element only where that picture and the
step's show the same pixels, and derives no effect from it.

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

#: A picture that differs from the snapshotted one in at most this many pixels shares its snapshot
#: (a caret blinking, a few typed characters, a hover ring: nothing appeared, moved or went away).
SMALL_PIXELS = 1500


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
    """The tree as read for one picture (first captured at ``picture``); ``asked`` (monotonic) is when
    the read began."""

    elements: tuple
    windows: list
    asked: float
    took: float
    picture: float = 0.0


def small_change(a: Frame, b: Frame) -> bool:
    """True when two frames differ in a few pixels only (see ``SMALL_PIXELS``)."""
    if a.image.size != b.image.size or (a.left, a.top) != (b.left, b.top):
        return False
    x = np.asarray(a.image.convert("L"), dtype=np.int16)
    y = np.asarray(b.image.convert("L"), dtype=np.int16)
    return int(np.count_nonzero(np.abs(x - y) > 8)) <= SMALL_PIXELS


class TreeWatcher(threading.Thread):
    """Reads the tree for each new picture in ``history`` through ``runner`` (a ``ProcessRunner`` of
    ``tree_reader``); see the module docstring. ``reads`` / ``shared`` / ``slowest_s`` are figures for
    the recording's status."""

    def __init__(self, history: FrameHistory, runner, *, quiet: float = 0.05, keep: int = 32,
                 timeout: float = 5.0, max_reads: int = 3, settle: float = 0.25) -> None:
        super().__init__(name="record-tree", daemon=True)
        self.history, self.runner, self.quiet, self.timeout = history, runner, quiet, timeout
        self.max_reads, self.settle = max_reads, settle
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
            try:
                elements, windows, asked, ended = self._stable_read(first)
            except Exception as e:  # noqa: BLE001 - a hung or dead reader: steps fall back to pixels
                self.error = f"{type(e).__name__}: {e}"[:300]
                continue
            snap = TreeSnapshot(elements, windows, asked, ended - asked, first)
            self.slowest_s = max(self.slowest_s, snap.took)
            self._last = (frame, snap)
            self._file(first, snap)

    def _stable_read(self, changed: float) -> tuple[tuple, list, float, float]:
        """Read; while the read began soon after the picture changed, read again until two reads in a
        row describe the same elements (module docstring). Of two that agree the earlier is kept (the
        later may already show the person's next action: a box ticked). Returns it, when it began and
        when it ended."""
        last = None
        for _ in range(self.max_reads):
            began = time.monotonic()
            elements, windows = self.runner.submit().result(timeout=self.timeout)
            ended = time.monotonic()
            self.reads += 1
            sig = [(e.role, e.name, e.bounds) for e in elements]
            if last is not None and sig == last[0]:
                return last[1:]
            if began - changed >= self.settle:
                break
            last = (sig, elements, windows, began, ended)
        return elements, windows, began, ended

    def _file(self, first: float, snap: TreeSnapshot) -> None:
        with self._lock:
            self._by_picture[first] = snap
            self._order.append(first)
            while len(self._order) > self._keep:
                self._by_picture.pop(self._order.popleft(), None)

    def for_picture(self, first_seen: float, event_t: float) -> TreeSnapshot | None:
        """The snapshot filed under the picture first captured at ``first_seen``, if it was read before
        ``event_t`` (a read still going on at the action may show its effect: a box already ticked)."""
        with self._lock:
            snap = self._by_picture.get(first_seen)
        return snap if snap is not None and snap.asked + snap.took < event_t + 0.05 else None

    def before(self, event_t: float) -> TreeSnapshot | None:
        """The newest snapshot read before ``event_t``, whatever picture it was read for."""
        with self._lock:
            snaps = [s for s in self._by_picture.values() if s.asked + s.took < event_t]
        return max(snaps, key=lambda s: s.asked) if snaps else None

    def stop(self) -> None:
        self._stop_event.set()
