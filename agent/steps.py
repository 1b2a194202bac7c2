"""One step of desktop work: observe a settled screen, act through the safe executor, record it.

Shared by every job that touches the desktop (``agent do``, the demo, later ``run``, ``fill`` and
``replay``) so they all get the same guarantees: screenshots are taken only after the screen
stopped changing (peers act on half-loaded screens; fixed sleeps are either too long or too short),
every step is appended to the trajectory as it happens, and each phase is timed.

A step's screenshot is the *observation the action was decided on*; the frame captured while
waiting for the screen to settle after the action becomes the next observation, so a loop pays
for one settle per step, not two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from actions import secrets
from actions.coords import ImageMap, Rect
from actions.errors import SafetyStop
from actions.executor import ActionResult, Executor
from actions.space import Action, Click, MouseDown, TypeText
from agent.screen.redact import SecretMasker
from agent.screen import Frame, Screen, downscale, encode, wait_settled
from agent.trajectory import TrajectoryWriter


@dataclass(frozen=True, slots=True)
class SettleConfig:
    """How to decide that the screen settled (see ``agent.screen.wait_settled``)."""

    interval: float = 0.05
    stable_for: float = 0.15
    timeout: float = 3.0


@dataclass(frozen=True)
class Observation:
    """A settled screenshot, its copy downscaled for a model, and the map back to the screen."""

    frame: Frame
    image: Image.Image
    map: ImageMap
    settled: bool
    capture_s: float


@dataclass(frozen=True)
class StepOutcome:
    index: int | None
    result: ActionResult
    timings: dict[str, float]
    observation: Observation | None  # the screen after the action (the next step's observation)
    step: dict[str, Any] = field(default_factory=dict)


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

    def _observation(self, frame: Frame, settled: bool, spent: float) -> Observation:
        img, _ = downscale(frame.image, self.model_size) if self.model_size else (frame.image, 1.0)
        k = self.scale
        area = Rect(frame.left / k, frame.top / k, frame.width / k, frame.height / k)
        return Observation(frame, img, ImageMap(area, img.width, img.height), settled, spent)

    def observe(self, *, fresh: bool = False) -> Observation | None:
        """The current settled screen; reuses the frame from the last settle unless ``fresh``."""
        if self.screen is None:
            return None
        if self._last is not None and not fresh:
            return self._last
        t = time.monotonic()
        s = wait_settled(self.screen, interval=self.settle.interval, stable_for=self.settle.stable_for,
                         timeout=self.settle.timeout)
        self._last = self._observation(s.frame, s.settled, time.monotonic() - t)
        return self._last

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

    def act(self, action: Action, *, thought: str | None = None, extra: dict | None = None) -> StepOutcome:
        timings: dict[str, float] = {}
        before = self.observe()
        if before is not None:
            timings["capture_s"] = before.capture_s
        shot_path = None
        if before is not None and self.writer is not None:
            t = time.monotonic()
            data = encode(self.masker.apply(before.frame.image, before.image), self.image_format)
            shot_path = self.writer.add_image(data, step=self.writer.steps_written, label="before",
                                              ext="jpg" if self.image_format.startswith("jp") else "png")
            timings["encode_s"] = time.monotonic() - t
        self._last = None  # whatever happens next, the old observation is stale
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
        after = None
        if self.screen is not None and not action.terminal:
            t = time.monotonic()
            s = wait_settled(self.screen, interval=self.settle.interval,
                             stable_for=self.settle.stable_for, timeout=self.settle.timeout)
            timings["settle_s"] = time.monotonic() - t
            after = self._last = self._observation(s.frame, s.settled, 0.0)
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
        return StepOutcome(index, result, timings, after, step)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in timings.items()}
