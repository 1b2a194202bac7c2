"""The executor: turns typed actions into backend input, through the safety layer, every time.

Order of checks for each action (the first that fails wins):

1. the stop flag (kill hotkey, an earlier fail-safe) → ``SafetyStop`` raised;
2. step and time caps → ``StepCapReached`` / ``TimeCapReached`` raised;
3. bounds: every point must lie on a monitor → ``ActionResult(ok=False)`` (a model can correct a
   coordinate, so this is data, not an exception; never clamped);
4. the risky-action gate (``actions.gate``): the text on screen where the action lands (read now
   by the ``probe``), the action's own text and the model's thought; a risky word → the confirmer;
   a *no* raises ``ConfirmationDenied`` (the run stops);
5. the input itself. Text is typed in chunks of ``policy.type_chunk`` characters with the stop flag,
   the fail-safe and the time cap checked between chunks, so the kill hotkey ends even a long text
   within milliseconds and no character is typed after it. Keys held by a hotkey or a drag are
   released on the way out, whatever happens.

``{{secret:NAME}}`` placeholders are resolved only inside ``_type``; results, errors and
descriptions hold the mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from actions import secrets
from actions.backends import Backend
from actions.coords import ScreenLayout, to_pixel
from actions.gate import ScreenProbe, assess, collect, needs_screen
from actions.errors import (
    ActionError,
    ConfirmationDenied,
    SafetyStop,
    StepCapReached,
    TimeCapReached,
)
from actions.killswitch import StopFlag
from actions.safety import Confirmer, SafetyPolicy, TerminalConfirmer
from actions.space import (
    Action,
    Click,
    Done,
    Drag,
    Fail,
    Hotkey,
    KeyDown,
    KeyPress,
    KeyUp,
    MouseDown,
    MouseUp,
    MoveTo,
    Scroll,
    TypeText,
    Wait,
)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What happened to one action. ``error`` is masked text a model may read."""

    action: Action
    ok: bool
    started: float
    duration_s: float
    error: str | None = None
    approved_risky: str | None = None
    #: What the gate read before acting: ``[[source, text], ...]`` (masked), for the trajectory.
    evidence: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict:
        return {
            "action": self.action.to_json(),
            "ok": self.ok,
            "duration_s": round(self.duration_s, 6),
            "error": self.error,
            "approved_risky": self.approved_risky,
            "evidence": [list(e) for e in self.evidence],
        }


class Executor:
    """Safe execution of actions on one backend. One instance per run (it counts steps and time)."""

    def __init__(
        self,
        backend: Backend,
        policy: SafetyPolicy | None = None,
        *,
        confirmer: Confirmer | None = None,
        stop: StopFlag | None = None,
        layout: ScreenLayout | None = None,
        drag_steps: int = 12,
        probe: ScreenProbe | None = None,
    ) -> None:
        self.backend = backend
        #: Reads the screen where an action lands (``actions.gate``); None: judge the action's text only.
        self.probe = probe
        self.policy = policy or SafetyPolicy()
        self.confirm = confirmer or TerminalConfirmer()
        self.stop = stop or StopFlag()
        self._layout = layout
        self.drag_steps = drag_steps
        self.steps = 0
        self.started = time.monotonic()
        self._held_keys: list[str] = []
        self._held_buttons: list[str] = []

    @property
    def layout(self) -> ScreenLayout:
        if self._layout is None:
            self._layout = self.backend.layout()
        return self._layout

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def time_left(self) -> float | None:
        """Seconds until the time cap (negative once past it); None without a cap. Whoever waits on
        something slow for this run (a model answer) bounds the wait with it."""
        cap = self.policy.max_seconds
        return None if cap is None else cap - self.elapsed()

    # checks --------------------------------------------------------------------------------------
    def check_running(self) -> None:
        """Raise if the run must stop now (stop flag or time cap). Cheap; called between chunks."""
        self.stop.raise_if_set()
        cap = self.policy.max_seconds
        if cap is not None and self.elapsed() > cap:
            self.stop.set(f"time cap of {cap:g} s reached", TimeCapReached)
            self.stop.raise_if_set()

    def _check_step_cap(self) -> None:
        cap = self.policy.max_steps
        if cap is not None and self.steps >= cap:
            self.stop.set(f"step cap of {cap} reached", StepCapReached)
            self.stop.raise_if_set()

    # entry point ---------------------------------------------------------------------------------
    def execute(self, action: Action, *, thought: str | None = None) -> ActionResult:
        """Perform ``action`` through every check (module docstring). ``thought`` is the model's (or a
        script's) reason for it, which the risky-action gate reads too."""
        t0, wall = time.monotonic(), time.time()
        self.check_running()
        if not action.terminal:
            self._check_step_cap()
            self.steps += 1
        approved = None
        evidence: tuple[tuple[str, str], ...] = ()
        try:
            for x, y in action.points():
                self.layout.check(*to_pixel(x, y))
            ev = collect(action, thought=thought, probe=self.probe, pointer=self._pointer(action))
            evidence = tuple((e.source, secrets.mask(e.text)) for e in ev)
            reason = assess(action, ev, self.policy.risky_pattern())
            if reason is not None:
                if not self.confirm(action.describe(), reason):
                    raise ConfirmationDenied(f"not approved: {reason}")
                approved = reason
            self._perform(action)
        except ActionError as e:
            return ActionResult(action, False, wall, time.monotonic() - t0, secrets.mask(str(e)), approved, evidence)
        except SafetyStop:
            raise
        return ActionResult(action, True, wall, time.monotonic() - t0, None, approved, evidence)

    def _pointer(self, action: Action) -> tuple[float, float] | None:
        """Where the pointer is, when the gate needs it: a click without coordinates lands there, and
        it is where a keyboard action's focus most likely is (the last thing clicked)."""
        if self.probe is None or needs_screen(action) is None or action.points():
            return None
        try:
            return self.backend.position()
        except Exception:  # noqa: BLE001 - no pointer to ask: the probe gets no hint
            return None

    # input ---------------------------------------------------------------------------------------
    def _goto(self, x: float | None, y: float | None) -> None:
        if x is not None and y is not None:
            self.backend.move(*to_pixel(x, y))

    def _perform(self, a: Action) -> None:
        b = self.backend
        try:
            if isinstance(a, MoveTo):
                self._glide(a.x, a.y, a.duration)
            elif isinstance(a, Click):
                self._goto(a.x, a.y)
                b.click(a.button, a.clicks)
            elif isinstance(a, MouseDown):
                self._goto(a.x, a.y)
                b.button_down(a.button)
            elif isinstance(a, MouseUp):
                self._goto(a.x, a.y)
                b.button_up(a.button)
            elif isinstance(a, Drag):
                self._drag(a)
            elif isinstance(a, Scroll):
                self._goto(a.x, a.y)
                b.scroll(a.dx, a.dy)
            elif isinstance(a, TypeText):
                self._type(a.text)
            elif isinstance(a, KeyPress):
                for _ in range(a.presses):
                    self.check_running()
                    b.key_down(a.key)
                    b.key_up(a.key)
            elif isinstance(a, KeyDown):
                b.key_down(a.key)
            elif isinstance(a, KeyUp):
                b.key_up(a.key)
            elif isinstance(a, Hotkey):
                self._hotkey(a.keys)
            elif isinstance(a, Wait):
                self._sleep(a.seconds)
            elif isinstance(a, (Done, Fail)):
                pass
            else:  # pragma: no cover - every Action subclass is handled above
                raise ActionError(f"no executor for action {a.kind!r}")
        finally:
            self._release_held()

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.stop.wait(min(left, 0.05)):
                break
            self.check_running()
        self.check_running()

    def _glide(self, x: float, y: float, duration: float) -> None:
        tx, ty = to_pixel(x, y)
        if duration <= 0:
            self.backend.move(tx, ty)
            return
        sx, sy = self.backend.position()
        n = max(2, int(duration / 0.02))
        for i in range(1, n + 1):
            self.check_running()
            self.backend.move(round(sx + (tx - sx) * i / n), round(sy + (ty - sy) * i / n))
            time.sleep(duration / n)

    def _drag(self, a: Drag) -> None:
        self._goto(a.x1, a.y1)
        self.backend.button_down(a.button)
        self._held_buttons.append(a.button)
        x1, y1 = to_pixel(a.x1, a.y1)
        x2, y2 = to_pixel(a.x2, a.y2)
        n = max(2, self.drag_steps)
        for i in range(1, n + 1):
            self.check_running()
            self.backend.move(round(x1 + (x2 - x1) * i / n), round(y1 + (y2 - y1) * i / n))
            if a.duration:
                time.sleep(a.duration / n)
        self.backend.button_up(self._held_buttons.pop())

    def _hotkey(self, keys: tuple[str, ...]) -> None:
        for k in keys:
            self.check_running()
            self.backend.key_down(k)
            self._held_keys.append(k)
        while self._held_keys:
            self.backend.key_up(self._held_keys.pop())

    def _type(self, text: str) -> None:
        real = getattr(self.backend, "resolve_secrets", True)
        chunk = self.policy.type_chunk
        # Resolve placeholders piecewise so a secret value exists only while being typed.
        for piece in _split_secrets(text):
            value = secrets.resolve(piece) if real and secrets.has_secret(piece) else piece
            for i in range(0, len(value), chunk):
                self.check_running()
                self.backend.write(value[i : i + chunk])
                if self.policy.type_interval:
                    self._sleep(self.policy.type_interval)
            del value
        self.check_running()

    def _release_held(self) -> None:
        """Release keys and buttons left down by an interrupted hotkey or drag."""
        while self._held_keys:
            try:
                self.backend.key_up(self._held_keys.pop())
            except Exception:  # best effort while unwinding
                pass
        while self._held_buttons:
            try:
                self.backend.button_up(self._held_buttons.pop())
            except Exception:
                pass


def _split_secrets(text: str) -> list[str]:
    """Split text into plain runs and single placeholders, keeping order."""
    out: list[str] = []
    pos = 0
    for m in secrets.PLACEHOLDER.finditer(text):
        if m.start() > pos:
            out.append(text[pos : m.start()])
        out.append(m.group(0))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out
