"""One step of desktop work: observe a settled screen, act through the safe executor, record it.

Shared by every job that touches the desktop (``agent do``, the demo, ``run``, ``fill`` and ``replay``)
so they all get the same guarantees: screenshots are taken only after the screen stopped changing
(peers act on half-loaded screens; fixed sleeps are either too long or too short), every step is
appended to the trajectory as it happens, and each phase is timed.

A step's screenshot is the *observation the action was decided on*; the frame captured while
waiting for the screen to settle after the action becomes the next observation, so a loop pays
for one settle per step, not two.

Nothing is done twice: the settle (``agent.screen.settle``) tells of each new picture as it appears,
and the picture is shrunk for the model and encoded on the image thread (``agent.screen.background``)
while the settle confirms the screen is still; that one encoding is what the model is sent
(``Observation.encoded``) and what the trajectory saves as the step's "before" image (unless a secret
had to be covered), and its half-size copy for GLM-style history is made while the action runs.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from actions import secrets
from actions.coords import ImageMap, Rect
from actions.errors import SafetyStop
from actions.executor import ActionResult, Executor
from actions.space import Action, Click, Drag, Hotkey, KeyPress, MouseDown, Scroll, TypeText
from agent.screen import Frame, Region, Screen, SettleResult, downscale, encode, motion_limit
from agent.screen import background
from agent.screen.change import classify_frames
from agent.screen.settle import arm, capture_like
from agent.screen.settle import settle as settle_screen
from agent.screen.redact import SecretMasker
from agent.trajectory import TrajectoryWriter
from model.base import ImagePart
from model.family import prefetch_half_size

#: Actions whose effect should show on the screen: after them the settle waits for the first change.
#: A pointer move, a button held or released, a key held, a wait may change nothing visible.
VISIBLE_ACTIONS = (Click, Drag, Scroll, TypeText, KeyPress, Hotkey)


def expects_change(action: Action) -> bool:
    """Should the screen change after ``action`` (so the settle waits for its first change)?"""
    return isinstance(action, VISIBLE_ACTIONS)


@dataclass(frozen=True, slots=True)
class SettleConfig:
    """How to decide that the screen settled (``agent.screen.settle``): look every ``interval``; after an
    action that should change the screen wait up to ``first_change`` for its first change; then until
    there was no real change for ``stable_for`` seconds (``wiped_quiet`` after a change that left its
    area blank) and ``polls`` looks; give up after ``timeout``. ``damage``: capture only when the X
    server reports drawing (else poll)."""

    interval: float = 0.01
    stable_for: float = 0.04
    timeout: float = 3.0
    first_change: float = 1.0
    polls: int = 3
    damage: bool = True
    wiped_quiet: float = 0.3


def _fmt(fmt: str) -> str:
    f = fmt.lower().lstrip(".")
    return "jpeg" if f == "jpg" else f


@dataclass(frozen=True)
class Observation:
    """A settled screenshot, its copy downscaled for a model, and the map back to the screen.
    ``moving``: small regions (screen px) seen changing by themselves while it settled."""

    frame: Frame
    image: Image.Image
    map: ImageMap
    settled: bool
    capture_s: float
    moving: tuple[Region, ...] = ()
    _encoded: dict = field(default_factory=dict, repr=False, compare=False)

    def encoded(self, fmt: str = "png") -> ImagePart:
        """``image`` encoded as PNG or JPEG, once: the model's copy and the trajectory's are the same
        bytes. Its half-size copy for a model's history is started on the image thread."""
        key = _fmt(fmt)
        got = self._encoded.get(key)
        if isinstance(got, Future):
            got = self._encoded[key] = got.result()
        if got is None:
            got = self._encoded[key] = ImagePart.from_image(self.image, key)
            prefetch_half_size(got, background.submit, self.image)
        return got


@dataclass(frozen=True)
class StepOutcome:
    index: int | None
    result: ActionResult
    timings: dict[str, float]
    observation: Observation | None  # the screen after the action (the next step's observation)
    step: dict[str, Any] = field(default_factory=dict)
    settle: SettleResult | None = None  # how the wait after the action went


@dataclass
class _Candidate:
    """A picture the settle saw appear, being shrunk and encoded on the image thread."""

    frame: Frame
    small: Future | None  # the downscaled image (None: the frame's own image is sent)
    part: Future

    def cancel(self) -> None:
        for f in (self.small, self.part):
            if f is not None:
                f.cancel()


class StepRunner:
    """Observe → act → settle → record, with per-phase timings. ``screen=None`` runs blind (dry runs
    without a display); ``writer=None`` records nothing."""

    def __init__(
        self,
        executor: Executor,
        screen: Screen | None = None,
        writer: TrajectoryWriter | None = None,
        *,
        settle: SettleConfig = SettleConfig(),
        model_size: tuple[int, int] | None = (1280, 800),
        image_format: str = "png",
        scale: float | None = None,
        elements=None,
    ) -> None:
        self.executor = executor
        #: The screen element model (``agent.elements.snapshot.ElementModeler``) or None: built lazily
        #: per observation by ``elements()``; the risky-action gate and secret masking use it too.
        self.modeler = elements
        self.screen = screen
        self.writer = writer
        self.settle = settle
        self.model_size = model_size
        self.image_format = image_format
        self._scale = scale  # HiDPI: capture pixels per logical (input) pixel; None = measure it
        self._last: Observation | None = None
        self._candidate: _Candidate | None = None  # the picture being prepared while the screen settles
        self.masker = SecretMasker()  # typed secrets stay out of saved screenshots
        self._focus_point: tuple[float, float] | None = None  # where the pointer last acted (screen px)
        probe = getattr(executor, "probe", None)
        if elements is not None and probe is not None:  # the gate reads names from the element model
            if getattr(probe, "snapshot", False) is None:
                probe.snapshot = elements.latest
            if getattr(probe, "focused", False) is None:
                probe.focused = elements.focused
            if getattr(probe, "element_at", False) is None and getattr(elements, "a11y", None) is not None:
                probe.element_at = elements.a11y.element_at

    @property
    def scale(self) -> float:
        """Capture pixels per input pixel. On a HiDPI screen mss captures physical pixels while the
        mouse moves in logical ones (2.0 on Retina); measured once from the two sizes."""
        if self._scale is None:
            self._scale = 1.0
            if self.screen is not None:
                sw, sh = self.screen.size()
                b = self.executor.layout.bounds
                sx, sy = sw / b.width, sh / b.height
                if abs(sx - sy) < 0.01 and sx > 0:
                    self._scale = sx
            probe = getattr(self.executor, "probe", None)
            if probe is not None and hasattr(probe, "scale"):
                probe.scale = self._scale  # the gate reads the screen in capture pixels too
        return self._scale

    def _shrink(self, img: Image.Image) -> Image.Image:
        return downscale(img, self.model_size)[0] if self.model_size else img

    def _prepare(self, frame: Frame) -> None:
        """The settle's ``on_picture``: a new picture appeared; shrink and encode it on the image thread
        while the settle confirms it stays (the previous candidate, if still queued, is dropped)."""
        if self._candidate is not None:
            self._candidate.cancel()
        small = background.submit(self._shrink, frame.image) if self.model_size else None
        fmt = _fmt(self.image_format)
        part = background.submit(lambda: ImagePart.from_image(frame.image if small is None else small.result(), fmt))
        self._candidate = _Candidate(frame, small, part)

    def _settle(self, **kw) -> SettleResult:
        c = self.settle
        return settle_screen(self.screen, quiet=c.stable_for, interval=c.interval, polls=c.polls, timeout=c.timeout,
                             damage=c.damage, wiped_quiet=c.wiped_quiet, on_picture=self._prepare, **kw)

    def _observation(self, s: SettleResult, spent: float) -> Observation:
        frame, cand, self._candidate = s.frame, self._candidate, None
        encoded: dict = {}
        if cand is not None and cand.frame.same_pixels(frame):  # prepared while the screen settled
            img = frame.image if cand.small is None else cand.small.result()
            part = encoded[_fmt(self.image_format)] = cand.part.result()
            prefetch_half_size(part, background.submit, img)
        else:  # the screen moved on (or only moved: a spinner) after the last picture began
            if cand is not None:
                cand.cancel()
            img = self._shrink(frame.image)
        k = self.scale
        area = Rect(frame.left / k, frame.top / k, frame.width / k, frame.height / k)
        return Observation(frame, img, ImageMap(area, img.width, img.height), s.settled, spent, s.moving, encoded)

    def observe(self, *, fresh: bool = False) -> Observation | None:
        """The current settled screen; reuses the frame from the last settle unless ``fresh``."""
        if self.screen is None:
            return None
        if self._last is not None and not fresh:
            return self._last
        t = time.monotonic()
        s = self._settle()
        self._last = self._observation(s, time.monotonic() - t)
        return self._last

    def screen_moved(self, obs: Observation) -> bool:
        """Does the screen now differ from what ``obs`` showed by more than motion (a caret, a spinner:
        ``agent.screen.real_change``)? One capture and a comparison, a few ms; the agent loop asks
        before acting on an answer the model took long over."""
        if self.screen is None:
            return False
        now = capture_like(self.screen, obs.frame)
        return not now.same_pixels(obs.frame) and classify_frames(obs.frame, now)[0]

    def elements(self, *, fresh: bool = False):
        """The element model of the current observation (``ScreenModel``), built once per screen
        state; None without a screen or an element modeler."""
        if self.modeler is None:
            return None
        obs = self.observe(fresh=fresh)
        return None if obs is None else self.modeler.snapshot(obs.frame)

    def _typed_field(self, frame: Frame) -> tuple[int, int, int, int] | None:
        """The bounds (frame pixels) of the field a secret was just typed into, from the element model:
        the focused element, else the element under the point that focused it."""
        if self.modeler is None:
            return None
        e = None
        try:
            e = self.modeler.focused()
            if e is None and self._focus_point is not None:
                e = self.modeler.element_at(*self._focus_point)
        except Exception:  # noqa: BLE001 - the pixels-changed box still covers it
            e = None
        if e is None or e.role not in ("entry", "textarea", "spinbox", "combobox"):
            return None
        k, b = self.scale, e.bounds
        return (int(b.left * k) - frame.left, int(b.top * k) - frame.top,
                int(b.right * k) - frame.left, int(b.bottom * k) - frame.top)

    def save_image(self, frame: Frame, *, step: int, label: str) -> str | None:
        """Write a screenshot of ``frame`` into the trajectory with every shown secret covered (the
        one way screenshots other than the step's own — a failure, a dry run's annotation — are
        saved). Returns its path relative to the trajectory, or None without a trajectory."""
        if self.writer is None:
            return None
        return self.writer.add_image(encode(self.masker.apply(frame.image, frame.image)), step=step, label=label,
                                     ext="png")

    def masked(self, frame: Frame) -> Frame:
        """``frame`` with every shown secret covered, for callers that draw on it before saving."""
        image = self.masker.apply(frame.image, frame.image)
        return frame if image is frame.image else Frame(image, frame.left, frame.top, frame.taken_at)

    def _frame_point(self, frame: Frame) -> tuple[int, int] | None:
        if self._focus_point is None:
            return None
        k = self.scale
        return int(self._focus_point[0] * k) - frame.left, int(self._focus_point[1] * k) - frame.top

    def _save_before(self, obs: Observation) -> str | None:
        """Write the screenshot ``obs`` was decided on: the model's own encoding unless a shown secret had
        to be covered. Returns its path in the trajectory."""
        if self.writer is None:
            return None
        shown = self.masker.apply(obs.frame.image, obs.image)
        data = obs.encoded(self.image_format).data if shown is obs.image else encode(shown, self.image_format)
        return self.writer.add_image(data, step=self.writer.steps_written, label="before",
                                     ext="jpg" if self.image_format.startswith("jp") else "png")

    def note(self, record: dict, obs: Observation | None = None) -> int | None:
        """Append a record of something that was not an action (an answer not carried out) to the
        trajectory, with ``obs`` as its screenshot. Returns its index, or None without a trajectory."""
        if self.writer is None:
            return None
        shot = self._save_before(obs) if obs is not None else None
        return self.writer.append({**record, "screenshot": shot})

    def _moving(self, obs: Observation, pre: Frame) -> tuple[Region, ...]:
        """What changes by itself on the screen: ``obs``'s motion and the small regions that changed
        between ``obs`` and ``pre`` (captured just before the action)."""
        if pre.same_pixels(obs.frame) or pre.size != obs.frame.size:
            return obs.moving
        limit = motion_limit(pre.size)
        _, regions = classify_frames(obs.frame, pre)
        return obs.moving + tuple(Region(r.left + pre.left, r.top + pre.top, r.width, r.height)
                                  for r in regions if r.width * r.height < limit)

    def act(self, action: Action, *, thought: str | None = None, extra: dict | None = None) -> StepOutcome:
        timings: dict[str, float] = {}
        before = self.observe()
        if before is not None:
            timings["capture_s"] = before.capture_s
        shot_path = None
        if before is not None and self.writer is not None:
            t = time.monotonic()
            shot_path = self._save_before(before)
            timings["encode_s"] = time.monotonic() - t
        self._last = None  # whatever happens next, the old observation is stale
        first_change = self.settle.first_change if expects_change(action) else 0.0
        pre, armed = None, False  # the screen right before the action: its effect is looked for against it
        if before is not None and first_change > 0 and not action.terminal:
            armed = self.settle.damage and arm(self.screen)  # drawing from here on is waited for
            pre = capture_like(self.screen, before.frame)
        t = time.monotonic()
        try:
            result = self.executor.execute(action, thought=thought)
        except SafetyStop as e:  # record why the run stopped, then let the caller end it
            timings["execute_s"] = time.monotonic() - t
            if self.writer is not None:
                self.writer.append({"action": action.to_json(), "ok": False, "thought": thought,
                                    "safety_stop": secrets.mask(str(e) or e.reason),
                                    "screenshot": shot_path, "timings": _rounded(timings), **(extra or {})})
            raise
        timings["execute_s"] = time.monotonic() - t
        after = s = None
        if self.screen is not None and not action.terminal:
            t = time.monotonic()
            if pre is not None and result.ok:
                s = self._settle(before=pre, moving=self._moving(before, pre), first_change=first_change, armed=armed)
            else:  # nothing was done (refused, failed): nothing to wait for but a still screen
                s = self._settle()
            timings["settle_s"] = time.monotonic() - t
            t = time.monotonic()  # the next observation: shrunk and encoded while it settled, or now
            after = self._last = self._observation(s, 0.0)
            timings["prepare_s"] = time.monotonic() - t
            if before is not None and isinstance(action, TypeText) and secrets.has_secret(action.text):
                # the field typed into is the one the pointer last focused: cover its bounds
                self.masker.typed_secret(before.frame.image, after.frame.image, field=self._typed_field(after.frame),
                                         point=self._frame_point(after.frame))
        if isinstance(action, (Click, MouseDown)) and action.x is not None and result.ok:
            self._focus_point = (action.x, action.y)
        step: dict[str, Any] = {
            "action": action.to_json(),
            "ok": result.ok,
            "error": result.error,
            "approved_risky": result.approved_risky,
            "evidence": [list(e) for e in result.evidence] or None,
            "thought": thought,
            "screenshot": shot_path,
            "screen_area": None if before is None else [before.map.area.left, before.map.area.top,
                                                        before.map.area.width, before.map.area.height],
            "image_size": None if before is None else [before.map.width, before.map.height],
            "settled": None if after is None else after.settled,
            "timings": _rounded(timings),
            **(extra or {}),
        }
        index = self.writer.append(step) if self.writer is not None else None
        return StepOutcome(index, result, timings, after, step, s)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in timings.items()}
