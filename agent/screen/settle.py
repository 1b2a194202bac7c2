"""Wait for the screen to settle after an action: as soon as it is still, never on a half-drawn picture.

A fixed quiet window after polling (the old ``wait_settled``: 150 ms of identical frames, polled every
50 ms) costs ~200 ms on every step and still returns too early when an app answers after a pause.
``settle`` asks two questions instead:

1. **Has the action's effect shown yet?** An app may redraw at once, after 100 ms (a handler doing
   work) or after half a second (a dialog opening, a page loading). After an action that should
   change the screen, the wait first looks for the first change against ``before`` (the frame
   captured just before the action), for at most ``first_change`` seconds. A caret blinking
   (``change.blink_like``) and what was already moving by itself before the action (``moving``: a
   spinner seen by the previous settle) do not count as that change. A real change is the effect at
   once; a small one (a checkbox's tick, a typed character) once it stayed put for ``quiet`` — a small
   region that changes again meanwhile is motion nobody had seen yet, and the wait goes on. When no
   change comes, the screen was still all along and the wait ends there.
2. **Has it finished drawing?** Then it waits until the screen has made no *real* change (more than
   motion, ``agent.screen.change``) for ``quiet`` seconds and at least ``polls`` captures. Each
   capture is compared with the frame that began the quiet window, so a picture that builds up in
   small pieces counts once the pieces add up, while a caret or a spinner never keeps it waiting.
   Small regions seen changing at least twice are reported as ``moving`` for the next action's wait
   (a last small stroke of drawing, seen once, is not motion).
   A change that wiped its area to a plain colour (a toolkit clearing a window before it draws the
   next page on it) must be followed by ``wiped_quiet`` (300 ms) of calm instead: a blank page is
   rarely the final picture, and a busy app may take 100 ms to build the next one.

Looking is cheap. The X server says when anything was drawn (DAMAGE, ``agent.screen.damage``): the
screen is captured only then, and a look that saw nothing drawn costs nothing. Without DAMAGE it is
polled every ``interval`` (10 ms; an XShm grab takes 1-4 ms and a grab equal to the previous one is
recognised by comparing bytes). Either way the wait ends about ``quiet`` (40 ms) after the last change,
not after a fixed window. ``on_picture`` is told of each new picture once it lasted one look: the step
runner starts encoding it then, in the background, so the encoding is usually ready when the wait ends.

What it cannot know: an app that changes twice with more than ``quiet`` of calm in between (a pressed
button's look at once, the result half a second later) is returned after the first change. Before
acting on a slow model's answer the agent loop looks again (``agent.steps.StepRunner.screen_moved``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PIL import ImageChops

from agent.screen.capture import Frame, Region, Screen, SettleResult
from agent.screen.damage import DamageWatch
from agent.screen.change import JOIN, blink_like, classify_frames

#: Most motion regions a settle reports (merged when they touch).
MAX_MOVING = 32
#: A change over at least this share of the screen that leaves its area in at most ``WIPED_COLOURS``
#: colours wiped it (a checkbox's tick or an emptied text field is not a wiped page).
WIPED_SHARE = 0.02
WIPED_COLOURS = 4


def settle(
    screen: Screen,
    *,
    before: Frame | None = None,
    moving: Sequence[Region] = (),
    first_change: float = 0.0,
    quiet: float = 0.04,
    interval: float = 0.01,
    polls: int = 3,
    timeout: float = 3.0,
    monitor: int = 0,
    region: Region | None = None,
    on_picture: Callable[[Frame], None] | None = None,
    damage: bool = True,
    armed: bool = False,
    wiped_quiet: float = 0.3,
) -> SettleResult:
    """Capture until the screen settled (see the module docstring); ``frame`` is the latest capture.

    ``before`` and ``first_change`` > 0 turn on the wait for the action's first change; ``moving``
    (screen coordinates) are regions known to change by themselves. ``settled`` is False when real
    changes went on until ``timeout``; after a change that wiped its area to a plain colour the screen
    must stay still for ``wiped_quiet`` instead of ``quiet``. ``damage``: between looks, wait on the X
    DAMAGE extension when the display has it (``Screen.damage``) instead of capturing every
    ``interval``. ``armed``: the caller called ``arm`` right before capturing ``before`` (and acting):
    what was drawn since is waited for, without a first capture.
    """
    start = time.monotonic()
    deadline = start + max(0.0, timeout)
    watch = screen.damage() if damage and isinstance(screen, Screen) else None
    if watch is not None and armed and before is not None and first_change > 0:
        cur, frames = Frame(before.image, before.left, before.top, start, before.raw), 0
    else:
        if watch is not None:
            watch.clear()
        cur, frames = capture_like(screen, None, monitor, region), 1
    w = _Wait(screen, watch, monitor, region, interval, start, frames)
    first_s, last_still, need, unchanged = None, start, quiet, 0
    learned: list[Region] = []  # moving regions found while waiting for the first change
    if before is not None and first_change > 0:
        found = _first_change(w, before, cur, _to_frame(moving, cur), min(start + first_change, deadline),
                              deadline, quiet, learned)
        if found is None:  # nothing but a caret or motion changed: the screen was still all along
            return w.result(True, w.last, None, w.last.taken_at - start, learned, [])
        cur, regions, last_still, unchanged = found
        first_s = cur.taken_at - start
        need = wiped_quiet if _wiped(cur, regions) else quiet
    # a small first change that stayed put for ``quiet`` (``unchanged`` looks) is followed by ``w.last``
    ref, prev = cur, (w.last if unchanged else cur)
    told = bool(unchanged) and on_picture is not None
    if told:
        on_picture(prev)
    motion: list[list] = []  # [region, times seen changing]
    while True:
        now = time.monotonic()
        if unchanged >= polls and prev.taken_at - ref.taken_at >= need:
            return w.result(True, prev, first_s, now - last_still, learned, motion)
        if now >= deadline:
            return w.result(False, prev, first_s, now - last_still, learned, motion)
        wake = prev.taken_at + interval  # the next look; sooner if the quiet window ends sooner
        if unchanged >= polls - 1:
            wake = min(wake, max(ref.taken_at + need, now))
        cur, _ = w.look(prev, min(wake, deadline))
        if cur.same_pixels(prev):
            unchanged += 1
        else:
            real, regions = classify_frames(ref, cur)
            if real:
                ref, unchanged, told = cur, 0, False
                last_still = w.drawn_at or prev.taken_at
                need = wiped_quiet if _wiped(cur, regions) else quiet
            else:
                unchanged += 1
                _count(motion, [Region(r.left + cur.left, r.top + cur.top, r.width, r.height) for r in regions])
        if unchanged and not told and on_picture is not None:  # a picture that lasted one look
            on_picture(cur)
            told = True
        prev = cur


class _Wait:
    """The looks of one settle: captures or, with a damage watch, the knowledge that nothing was drawn."""

    def __init__(self, screen: Screen, watch: DamageWatch | None, monitor: int, region: Region | None,
                 interval: float, start: float, frames: int) -> None:
        self.screen, self.watch, self.monitor, self.region = screen, watch, monitor, region
        self.interval, self.start, self.frames = interval, start, frames
        self.last: Frame | None = None
        self.drawn_at: float | None = None  # when the drawing ``last`` was captured for came in, if known

    def capture(self, like: Frame, drawn_at: float | None = None) -> Frame:
        """A capture; ``drawn_at``: when the damage watch reported the drawing it was taken for."""
        self.frames += 1
        self.last = capture_like(self.screen, like, self.monitor, self.region)
        self.drawn_at = drawn_at
        return self.last

    def look(self, prev: Frame, until: float) -> tuple[Frame, bool]:
        """The screen at ``until``, or earlier when something was drawn: a capture (``True``), or, when
        the damage watch saw nothing drawn, ``prev``'s picture at the time of looking (``False``)."""
        drawn_at = None
        if self.watch is None:
            _sleep_until(until)
        elif self.watch.wait(until):
            drawn_at = self.watch.woke_at  # None when it was drawn before this look began
            self.watch.clear()  # drawing from now on is reported again; the capture holds what came before
        else:
            self.last = Frame(prev.image, prev.left, prev.top, time.monotonic(), prev.raw)
            self.drawn_at = None
            return self.last, False
        return self.capture(prev, drawn_at), True

    def result(self, settled: bool, frame: Frame, first_s: float | None, quiet_s: float, learned: list[Region],
               motion: list[list]) -> SettleResult:
        """``moving``: what was seen changing by itself (at least twice: a last small stroke of drawing
        is not motion) and the motion found while waiting for the first change."""
        moving = [Region(r.left + frame.left, r.top + frame.top, r.width, r.height) for r in learned]
        moving += [r for r, n in motion if n >= 2]
        return SettleResult(settled, time.monotonic() - self.start, self.frames, frame, first_s, quiet_s,
                            tuple(moving[:MAX_MOVING]))


def _first_change(w: _Wait, before: Frame, cur: Frame, known: list[Region], until: float, deadline: float,
                  quiet: float, learned: list[Region]):  # noqa: ANN202 - see below
    """Wait for the action's first change against ``before``; None when none came by ``until``.

    Returns ``(frame, regions, last look before it, unchanged looks since)``. A real change is the
    effect at once. A small one (not a caret's blink, not known motion) is the effect only once it
    stayed put for ``quiet``: one that changes again meanwhile is motion nobody had seen yet (a spinner
    that turned; added to ``known`` and ``learned``). ``w.last`` is the latest look."""
    w.last = cur
    prev_t, cand, cand_prev, cand_regions, looks = w.start, None, w.start, [], 0
    cand: Frame | None
    while True:
        real, small = _effect(before, cur, known)
        if real:
            return cur, small, w.drawn_at or prev_t, 0
        if cand is not None:
            if _moved(cand, cur, cand_regions):  # it moves by itself: not the action's doing
                grown = _to_frame(cand_regions, Frame(cand.image, 0, 0, 0.0))
                known += grown
                learned += cand_regions
                cand, looks = None, 0
                continue
            if cur.taken_at - cand.taken_at >= quiet and looks >= 1:
                return cand, cand_regions, cand_prev, looks
        elif small:
            cand, cand_prev, cand_regions, looks = cur, w.drawn_at or prev_t, small, 0
        if cand is None and cur.taken_at >= until:
            return None
        prev_t = cur.taken_at
        cur, _ = w.look(cur, min(cur.taken_at + w.interval, deadline if cand is not None else until))
        looks += 1
        if cand is not None and cur.taken_at >= deadline:
            return cand, cand_regions, cand_prev, looks


def capture_like(screen: Screen, like: Frame | None, monitor: int = 0, region: Region | None = None) -> Frame:
    """A capture with its raw bytes that shares ``like``'s image when nothing changed (a ``Screen``;
    other screens, such as the tests' stand-ins, capture plainly)."""
    if isinstance(screen, Screen):
        return screen.capture(monitor, region, like=like, raw=True)
    return screen.capture(monitor, region)


def arm(screen: Screen) -> bool:
    """Start noting what is drawn from now on, for a ``settle(armed=True)`` after an action; False when
    the screen cannot report drawing (then the settle takes a first capture itself)."""
    watch = screen.damage() if isinstance(screen, Screen) else None
    if watch is not None:
        watch.clear()
    return watch is not None


def _sleep_until(t: float) -> None:
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def _to_frame(regions: Sequence[Region], frame: Frame) -> list[Region]:
    """Screen regions in ``frame``'s pixel coordinates, grown by ``JOIN`` px (motion wanders a little)."""
    return [Region(max(0, r.left - frame.left - JOIN), max(0, r.top - frame.top - JOIN),
                   r.width + 2 * JOIN, r.height + 2 * JOIN) for r in regions]


def _effect(before: Frame, cur: Frame, known: Sequence[Region]) -> tuple[bool, list[Region]]:
    """How ``cur`` differs from ``before``: ``(True, regions)`` for a real change; else ``(False, the
    small regions that are neither a caret's blink nor known motion)``."""
    if cur.same_pixels(before):
        return False, []
    real, regions = classify_frames(before, cur)
    if real:
        return True, regions
    return False, [r for r in regions if not blink_like(r, cur.size) and not any(r.intersect(k) for k in known)]


def _moved(cand: Frame, cur: Frame, regions: Sequence[Region]) -> bool:
    """Did any of ``regions`` change between ``cand`` and ``cur``?"""
    if cur.same_pixels(cand):
        return False
    return any(ImageChops.difference(cand.image.crop(_box(r)), cur.image.crop(_box(r))).getbbox() is not None
               for r in regions)


def _box(r: Region) -> tuple[int, int, int, int]:
    return r.left, r.top, r.right, r.bottom


def _wiped(frame: Frame, regions: Sequence[Region]) -> bool:
    """Did the change leave a large area plain (``WIPED_SHARE``, ``WIPED_COLOURS``)? Tk, for one, clears
    a window to its background before it builds the next page on it, which can take a busy app 100 ms;
    a blank page is rarely the final picture. ~2 ms; far less when the area is busy."""
    if not regions:
        return False
    left, top = min(r.left for r in regions), min(r.top for r in regions)
    right, bottom = max(r.right for r in regions), max(r.bottom for r in regions)
    if (right - left) * (bottom - top) < WIPED_SHARE * frame.width * frame.height:
        return False
    return frame.image.crop((left, top, right, bottom)).getcolors(WIPED_COLOURS) is not None


def _count(into: list[list], new: Sequence[Region]) -> None:
    """Note that ``new`` regions changed: one touching a noted region joins it and counts once more."""
    for r in new:
        for entry in into:
            m = entry[0]
            grown = Region(m.left - JOIN, m.top - JOIN, m.width + 2 * JOIN, m.height + 2 * JOIN)
            if grown.intersect(r) is not None:
                left, top = min(m.left, r.left), min(m.top, r.top)
                entry[0] = Region(left, top, max(m.right, r.right) - left, max(m.bottom, r.bottom) - top)
                entry[1] += 1
                break
        else:
            if len(into) < MAX_MOVING:
                into.append([r, 1])
