"""The recorder's eyes: a thread that only captures, the history "before" frames are pinned from, and
the time an input event really happened.

**Why capture has a thread of its own.** A step's screenshot must show the screen as it was right
before the person's action. When labelling (OCR of the target, the field's label, PNG encoding) ran
inside the capture loop, the loop stood still for 0.3–1 s per click on a busy machine, and the next
actions got frames from before the previous ones: at one action per second with two CPU hogs,
frames 1.1–3.4 s stale, and clicks on one autocomplete suggestion stored on the picture of another.
So the capture thread does nothing but grab (mss, 2–5 ms at 1280x800) and compare with the previous
picture (~0.5 ms); all slow work runs in the labelling worker (``agent.record.labelling``).

**What is kept.** Each distinct picture once, with the times of the first and of the latest capture
that showed it: a static screen costs one image however long it stays, and ``keep`` pictures cover a
changing screen for ``keep`` intervals. ``before(t)`` gives the newest picture first captured before
``t`` (so it cannot show the event's effect) and its age: ``t`` minus the latest capture before ``t``
that still showed it — at most one capture interval while the capture thread keeps its pace.

**When an event happened.** pynput stamps an event when its callback runs; through the X RECORD
extension that is 1–100 ms after the X server saw it, up to 0.4 s on a loaded machine (measured:
the recording's ``input_delivery_lag_max_s``) — long enough for the app to have redrawn, so a frame "before the callback" may show the effect. The X
server stamps every event itself, in milliseconds of its CLOCK_MONOTONIC — the clock of
``time.monotonic()`` on the same Linux machine. ``event_time`` uses that stamp when it is plausibly
ours (0–2 s before the callback) and the callback's time otherwise (a remote display).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from agent.screen import Frame, Screen, frames_differ

_WRAP_S = 2 ** 32 / 1000  # X timestamps are 32-bit milliseconds
_MAX_LAG_S = 2.0


def event_time(server_ms: int | None, received: float) -> float:
    """The ``time.monotonic()`` at which the X server saw an event stamped ``server_ms`` that reached
    us at ``received`` (see the module docstring); ``received`` when the stamp is not usable."""
    if not server_ms:  # None, or 0 (CurrentTime)
        return received
    lag = (received - server_ms / 1000) % _WRAP_S
    if lag > _WRAP_S - 0.01:  # a hair "after" we got it: the server truncates to whole ms
        lag = 0.0
    return received - lag if lag <= _MAX_LAG_S else received


@dataclass(frozen=True)
class Pin:
    """The frame a step will show as "before": the screen as last seen before ``event_t``."""

    frame: Frame
    first_seen: float  # monotonic time of the first capture showing this picture
    seen_at: float  # the latest capture before the event that still showed it
    event_t: float

    @property
    def age(self) -> float:
        """How long before the event the screen was last confirmed to look like this."""
        return max(0.0, self.event_t - self.seen_at)


@dataclass
class _Picture:
    frame: Frame
    first: float
    last: float


class FrameHistory:
    """The last ``keep`` distinct pictures (see the module docstring). Thread-safe: one capture thread
    adds, the input listeners and the merge loop pin."""

    def __init__(self, keep: int = 12) -> None:
        self._lock = threading.Lock()
        self._pictures: deque[_Picture] = deque(maxlen=keep)
        self._captures: deque[float] = deque(maxlen=1024)  # recent capture times, for ages
        self.captures = 0

    def add(self, frame: Frame) -> bool:
        """Keep a capture; True when it shows a new picture."""
        newest = self._pictures[-1] if self._pictures else None  # only the capture thread appends
        changed = newest is None or frames_differ(newest.frame.image, frame.image)
        with self._lock:
            if changed:
                self._pictures.append(_Picture(frame, frame.taken_at, frame.taken_at))
            else:
                newest.last = frame.taken_at
            self._captures.append(frame.taken_at)
            self.captures += 1
        return changed

    def before(self, t: float) -> Pin | None:
        """The newest picture first captured before ``t``, or None when none is kept."""
        with self._lock:
            for pic in reversed(self._pictures):
                if pic.first < t:
                    seen = pic.last
                    if seen >= t:  # still on screen after t: the last capture before t showed it
                        seen = next((c for c in reversed(self._captures) if c < t), pic.first)
                    return Pin(pic.frame, pic.first, seen, t)
        return None

    def capture_after(self, t: float) -> float | None:
        """The time of the first capture at or after ``t`` (None: none yet, or long forgotten)."""
        with self._lock:
            found = None
            for c in reversed(self._captures):
                if c < t:
                    break
                found = c
            return found

    def latest(self) -> Frame | None:
        with self._lock:
            return self._pictures[-1].frame if self._pictures else None

    def picture(self, first_seen: float) -> Frame | None:
        """The kept picture first captured at ``first_seen`` (None when forgotten)."""
        with self._lock:
            return next((p.frame for p in self._pictures if p.first == first_seen), None)

    def newest(self) -> tuple[Frame, float, float] | None:
        """The newest picture, when it was first captured and when it was last seen (or None)."""
        with self._lock:
            p = self._pictures[-1] if self._pictures else None
            return (p.frame, p.first, p.last) if p is not None else None


def newer(a: Pin | None, b: Pin | None) -> Pin | None:
    """Of two pins for one event, the one seen later (a second look may find a fresher capture)."""
    if a is None or b is None:
        return a or b
    return b if b.seen_at > a.seen_at else a


class CaptureThread(threading.Thread):
    """Captures ``display`` every ``interval`` into ``history`` until ``stop``. A capture that fails
    (the display went away) ends the thread with ``error`` set. Owns its own ``Screen``: an mss
    instance belongs to the thread that opened it."""

    def __init__(self, history: FrameHistory, *, display: str | None, interval: float) -> None:
        super().__init__(name="record-capture", daemon=True)
        self.history, self.display, self.interval = history, display, interval
        self.error: Exception | None = None
        self.started_capturing = threading.Event()
        self.slowest_s = 0.0  # the longest gap between two captures (a stall shows here)
        self.late = 0  # gaps longer than two intervals
        self._stop_event = threading.Event()

    def run(self) -> None:
        screen = Screen(self.display)
        try:
            due, prev = time.monotonic(), None
            while not self._stop_event.is_set():
                frame = screen.capture()
                self.history.add(frame)
                if prev is not None:
                    self.slowest_s = max(self.slowest_s, frame.taken_at - prev)
                    self.late += frame.taken_at - prev > 2 * self.interval
                prev = frame.taken_at
                self.started_capturing.set()
                now = time.monotonic()
                due = max(due + self.interval, now)  # fell behind (a stall): carry on, no burst
                self._stop_event.wait(due - now)
        except Exception as e:  # noqa: BLE001 - the display went away, or never was
            self.error = e
        finally:
            self.started_capturing.set()
            try:
                screen.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass

    def stop(self) -> None:
        self._stop_event.set()
