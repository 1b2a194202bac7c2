"""``agent replay``: perform a recorded trajectory again, re-finding every target on the live screen.

Replaying recorded coordinates is what makes macro recorders brittle (a moved or resized window,
rows in another order, a calendar on another month) and replaying at recorded speed is what makes
them flaky (a slow app). Here each step that points somewhere is resolved first, on fresh settled
screens until ``find_timeout``:

1. **the element** (``agent.record.resolve``): the recorded role and name, in the recorded row (by
   its content, never its position), with the replay's ``--var`` values; a target that is a day of a
   calendar first brings the calendar to its month (``agent.record.repair``);
2. **the pixels** (``agent.record.pixels``): the recorded crop, the OCR text, the VLM grounder — and
   then the element under the point must not be another one (``resolve.identity``): the crop of a
   "3" found in the wrong month is rejected, not clicked;
3. **healing** (``agent.record.heal``), with a model configured: the agent loop gets a sub-goal built
   from the recording and a few steps; its actions are recorded as ``healed``.

Before typing, the keyboard focus must be on the recorded field (``resolve.focus_problem``); text is
never typed anywhere else. After each step the recorded change is awaited (``repair.unmet``: the page
heading, the calendar month, the suggestions that appeared …), a calendar on another month is paged
to the recorded one, and anything else that does not show stops the replay: ``ReplayFailed`` names
the step, the reason and a screenshot of the screen as it was. Nothing is ever clicked at the old
coordinates. Input goes through the caller's ``StepRunner`` and so through the safe executor.

Recordings without element locators (older ones, ``agent run`` / ``agent do`` trajectories) replay
by their pixels alone, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PIL import ImageDraw

from actions.coords import Rect
from actions.space import Action, Click, TypeText, action_from_json
from agent.elements.ground import ElementAmbiguous, ElementMissing
from agent.elements.model import Element, ScreenModel
from agent.record.anchors import window_at
from agent.record.locators import month_of
from agent.record.outcome import ReplayFailed, ReplayOptions, ReplayResult
from agent.record.pixels import PixelFinder
from agent.record.repair import Substitutions, other_month, to_month, unmet
from agent.record.resolve import Expected, find, focus_problem, focused, identity, point_in, wanted_month
from agent.record.variables import Values
from agent.screen import Frame, Screen, encode, frames_differ, wait_settled
from agent.steps import StepRunner
from agent.trajectory import Trajectory, TrajectoryWriter
from model.base import ModelError
from model.grounding import GroundingError, Grounder

POINTED = ("click", "mouse_down", "mouse_up", "move", "scroll", "drag")
_YES = {"yes", "y", "true", "1", "x", "on", "checked"}


class Replayer:
    """Replays ``recording`` (see the module docstring). ``runner=None`` is a dry run: targets are
    resolved on the current screen (``elements``, an ``ElementModeler``, names them) and drawn.
    ``healer`` (``agent.record.heal.Healer``) hands unresolved steps to the agent loop."""

    def __init__(self, recording: Trajectory, screen: Screen, *, runner: StepRunner | None,
                 writer: TrajectoryWriter, options: ReplayOptions = ReplayOptions(),
                 fallbacks: list[Grounder] | None = None, on_step: Callable[..., None] | None = None,
                 elements=None, healer=None):  # noqa: ANN001 - ElementModeler, Healer
        self.rec = recording
        self.screen = screen
        self.runner = runner  # None: dry run
        self.writer = writer
        self.opt = options
        self.pixels = PixelFinder(recording.folder, min_score=options.min_score, fallbacks=fallbacks)
        self.modeler = elements if elements is not None else getattr(runner, "modeler", None)
        self.healer = healer
        #: ``on_step(index, message, ok)``: a step done (or, in a dry run, found: ok) or not found (not ok)
        self.on_step = on_step or (lambda i, msg, ok=True: None)
        self.not_found: list[int] = []
        self.healed: list[int] = []
        self.repaired: list[int] = []
        self.values = Values(recording, options.variables)
        self.subst = Substitutions(self.values.changed())
        self._clicked: Element | None = None  # the element this replay clicked last

    # the screen ---------------------------------------------------------------------------------
    def _observe(self, fresh: bool) -> Frame:
        if self.runner is not None:
            return self.runner.observe(fresh=fresh).frame
        return wait_settled(self.screen).frame

    def _model(self, frame: Frame) -> ScreenModel | None:
        if self.modeler is None:
            return None
        try:
            return self.modeler.snapshot(frame)
        except Exception:  # noqa: BLE001 - no element model this time: the pixels still work
            return None

    def _save(self, frame: Frame, index: int, label: str) -> str:
        """Keep the screen as it was when a step failed; the failed step is recorded with it."""
        if self.runner is not None:  # secrets typed during this replay stay covered
            rel = self.runner.save_image(frame, step=index, label=label)
        else:
            rel = self.writer.add_image(encode(frame.image), step=index, label=label, ext="png")
        self._failed_shot = (rel, frame)
        return str(self.writer.folder / rel)

    def _record_failure(self, e: ReplayFailed) -> None:
        rel, _frame = getattr(self, "_failed_shot", (None, None))
        # no screen_area: the recorded coordinates must not be drawn as if they were the target
        self.writer.append({"action": self.rec.steps[e.index].get("action"), "ok": False, "error": e.reason,
                            "replay_of": e.index, "screenshot": rel})

    def _click_element(self, index: int, why: str) -> Callable[[Element], None]:
        def click(e: Element) -> None:
            x, y = e.center
            out = self.runner.act(Click(round(x), round(y), target=e.name or None),
                                  extra={"replay_of": index, "repair": why, "element": e.to_json()})
            if not out.result.ok:
                raise ReplayFailed(index, f"{why}: clicking {e.label()} failed: {out.result.error}")
        return click

    def _snapshot(self, fresh: bool) -> ScreenModel:
        return self._model(self._observe(fresh)) or ScreenModel((), Rect(0, 0, 0, 0))

    # finding ------------------------------------------------------------------------------------
    def _month_first(self, index: int, exp: Expected, model: ScreenModel) -> bool:
        """Page a calendar to the month of the day ``exp`` names; True when it paged."""
        want = wanted_month(exp)
        if self.runner is None or not other_month(want, model):
            return False
        why = to_month(want, self._snapshot, self._click_element(index, "calendar month"),
                       timeout=self.opt.change_timeout + 3)
        if why is not None:
            raise ReplayFailed(index, f"the calendar cannot be brought to the recorded month: {why}",
                               self._save(self._observe(True), index, "notfound"))
        self.repaired.append(index)
        return True

    def _find_once(self, index: int, step: dict, exp: Expected | None, point, frame: Frame):
        """One try on one screen: the element, else the pixels with the identity check."""
        anchor = step.get("anchor")
        model = self._model(frame) if exp is not None else None
        errors = []
        if exp is not None and model is not None:
            if self._month_first(index, exp, model):
                frame = self._observe(True)
                model = self._model(frame) or model
            try:
                e = find(model, exp, window_of=_live_window)
                x, y = point_in(e, exp.loc)
                return (x, y), {"method": "element", "source": e.source, "element": e.to_json()}, frame, e
            except (ElementMissing, ElementAmbiguous) as err:
                errors.append(f"element: {err}")
        try:
            p, info = self.pixels.locate(step, anchor, point, frame, text=exp.want_name if exp else None)
        except GroundingError as err:
            raise GroundingError("; ".join(errors + [str(err)])) from None
        if exp is not None and model is not None:
            why = identity(model, exp, *p)
            if why:
                raise GroundingError("; ".join(errors + [f"{info['method']} found a place, but {why}"]))
            e = model.at(*p)
            if e is not None:
                info["element"] = e.to_json()
        return p, info, frame, None

    def _find(self, index: int, step: dict, exp: Expected | None, point):
        """Retry on fresh settled screens until found or ``find_timeout`` (a slow app is waited for)."""
        deadline = time.monotonic() + (self.opt.find_timeout if self.runner is not None else 0.0)
        tries = 0
        while True:
            frame = self._observe(fresh=tries > 0)
            tries += 1
            try:
                p, info, frame, e = self._find_once(index, step, exp, point, frame)
                return p, {**info, "tries": tries}, frame, e
            except GroundingError as err:
                if time.monotonic() >= deadline:
                    shot = self._save(frame, index, "notfound")
                    raise ReplayFailed(index, f"target not found after {tries} tries: {err}", shot) from None
            except ModelError as err:  # the VLM fallback's server: retrying will not help, a person must act
                raise ReplayFailed(index, f"the VLM fallback grounder failed: {err}",
                                   self._save(frame, index, "notfound")) from None
            time.sleep(0.25)

    # one step -----------------------------------------------------------------------------------
    def _prepare(self, index: int, step: dict) -> tuple[Action, dict, Frame | None, Element | None]:
        data = dict(step.get("action") or {})
        kind = data.get("type")
        info: dict = {}
        frame = element = None
        if kind == "type":
            data["text"] = self.values.text(step, data["text"])
        if kind in POINTED and data.get("x" if kind != "drag" else "x1") is not None:
            pt = (data["x1"], data["y1"]) if kind == "drag" else (data["x"], data["y"])
            exp = self.values.expected(step)
            (nx, ny), info, frame, element = self._find(index, step, exp, pt)
            if kind == "drag":
                data.update(x1=round(nx), y1=round(ny), x2=round(nx + data["x2"] - pt[0]),
                            y2=round(ny + data["y2"] - pt[1]))
            else:
                data.update(x=round(nx), y=round(ny))
            if kind == "click" and not data.get("target"):  # the safety layer reads it (risky words)
                data["target"] = (element.name if element is not None and element.name else None) \
                    or (step.get("anchor") or {}).get("text")
        return action_from_json(data), info, frame, element

    def _expect_change(self, index: int) -> bool:
        """Did the screen change after this step while recording? (Its screenshot vs the next one.)"""
        nxt = next((s for s in self.rec.steps[index + 1:] if s.get("screenshot")), None)
        a = self.pixels.image(self.rec.steps[index].get("screenshot"))
        b = self.pixels.image(nxt.get("screenshot")) if nxt else None
        return a is not None and b is not None and frames_differ(a, b, tolerance=8)

    def run(self) -> ReplayResult:
        t0 = time.monotonic()
        steps = self.rec.steps
        first_t = (steps[self.opt.start].get("t_rel") or 0.0) if self.opt.start < len(steps) else 0.0
        done = 0
        try:
            for i in range(self.opt.start, len(steps)):
                step = steps[i]
                kind = (step.get("action") or {}).get("type")
                if kind in ("done", "fail"):
                    break
                if self.opt.speed > 0 and step.get("t_rel") is not None:
                    lag = (step["t_rel"] - first_t) / self.opt.speed - (time.monotonic() - t0)
                    if lag > 0:
                        time.sleep(lag)
                if self.runner is None:  # dry run: a target missing now is noted, not fatal
                    try:
                        action, info, frame, _e = self._prepare(i, step)
                    except ReplayFailed as e:
                        self._record_failure(e)
                        self.not_found.append(i)
                        self.on_step(i, f"(dry run) NOT FOUND on the current screen: {e.reason}", False)
                        continue
                    self._dry(i, action, info, frame)
                else:
                    self._step(i, step)
                done += 1
        except ReplayFailed as e:
            self._record_failure(e)
            return ReplayResult(False, done, time.monotonic() - t0, e.index, e.reason, e.screenshot,
                                healed=self.healed, repaired=self.repaired)
        return ReplayResult(True, done, time.monotonic() - t0, not_found=self.not_found, healed=self.healed,
                            repaired=self.repaired)

    def _step(self, i: int, step: dict) -> None:
        kind = (step.get("action") or {}).get("type")
        before = self.runner.observe().frame
        before_model = self._model(before) if step.get("effect") else None
        try:
            action, info, _frame, element = self._prepare(i, step)
        except ReplayFailed as e:
            if self.healer is None or kind not in POINTED:
                raise
            self._heal(i, step, e)
            self._after(i, step, before, before_model, "healed step")
            return
        if kind == "type" and step.get("focus"):
            self._check_focus(i, step)
        if self._already(i, step, element):
            return
        self._act(i, action, info)
        if kind == "click":
            self._clicked = element
        elif kind != "type":
            self._clicked = None
        self._after(i, step, before, before_model, "typing" if isinstance(action, TypeText) else action.kind)

    def _already(self, i: int, step: dict, e: Element | None) -> bool:
        """A check box already in the state the recorded click left it in is not clicked again."""
        ch = step.get("choice") or {}
        if e is None or e.checked is None or (step.get("anchor") or {}).get("element", {}).get("role") != "checkbox":
            return False
        want = str(self.opt.variables.get(ch.get("var"), ch.get("value", ""))).strip().lower() in _YES
        if e.checked != want:
            return False
        self.writer.append({"replay_of": i, "ok": True, "skipped": f"{e.label()} is already "
                            f"{'ticked' if want else 'clear'}", "element": e.to_json()})
        self.on_step(i, f"{e.label()} already {'ticked' if want else 'clear'}: not clicked")
        return True

    def _check_focus(self, i: int, step: dict) -> None:
        """Typing goes only into the recorded field (module docstring)."""
        frame = self.runner.observe(fresh=True).frame
        live = None
        if self.modeler is not None:
            try:
                live = focused(self._model(frame), self.modeler.focused())
            except Exception:  # noqa: BLE001 - no focus information: the click before was checked
                live = None
        why = focus_problem(step["focus"], live, self._clicked)
        if why is None:
            return
        if self.healer is not None:
            self._heal(i, step, ReplayFailed(i, why))
            return
        raise ReplayFailed(i, why, self._save(frame, i, "wrongfocus"))

    def _heal(self, i: int, step: dict, failure: ReplayFailed) -> None:
        """Hand the step to the agent loop (``agent.record.heal``); ReplayFailed when it cannot."""
        from agent.record.heal import subgoal

        exp = self.values.expected(step)
        goal = subgoal(step, exp.want_name if exp else None, exp.row if exp else None)
        self.on_step(i, f"healing: {goal}")
        res = self.healer(self.runner, i, goal, on_step=lambda what: self.on_step(i, f"  healed: {what}"))
        if not res.success:
            frame = self._observe(True)
            raise ReplayFailed(i, f"{failure.reason}; the model could not heal it either ({res.status}: "
                                  f"{res.reason})", self._save(frame, i, "notfound"))
        self.healed.append(i)
        if (step.get("action") or {}).get("type") == "type":
            data = dict(step["action"], text=self.values.text(step, step["action"]["text"]))
            self._act(i, action_from_json(data), {"method": "healed focus"})

    def _act(self, i: int, action: Action, info: dict) -> None:
        if self.opt.confirm is not None and not self.opt.confirm(i, action.describe()):
            raise ReplayFailed(i, "declined at the --step prompt")
        before = self.runner.observe().frame
        out = self.runner.act(action, extra={"replay_of": i, "grounding": info or None})
        self.on_step(i, f"{action.describe()}  {info.get('method', '')} {info.get('score', '')}".rstrip())
        if not out.result.ok:
            raise ReplayFailed(i, f"{action.describe()} failed: {out.result.error}",
                               self._save(before, i, "failed"))

    def _after(self, i: int, step: dict, before: Frame, before_model: ScreenModel | None, what: str) -> None:
        """Await the recorded change (module docstring); page a calendar shown on another month."""
        effect = step.get("effect")
        if effect and before_model is not None:
            deadline = time.monotonic() + self.opt.effect_timeout
            while True:
                frame = self.runner.observe(fresh=True).frame
                now = self._model(frame)
                missing = unmet(effect, before_model, now, self.subst) if now is not None else []
                if not missing:
                    return
                if other_month(month_of(effect.get("month")), now) and i not in self.repaired:
                    why = to_month(month_of(effect["month"]), self._snapshot, self._click_element(i, "calendar month"),
                                   timeout=self.opt.change_timeout + 3)
                    if why is None:
                        self.repaired.append(i)
                        continue
                if time.monotonic() >= deadline:
                    raise ReplayFailed(i, f"after the {what}, the screen did not show what it showed while "
                                          f"recording within {self.opt.effect_timeout:g} s: missing "
                                          f"{'; '.join(missing)}", self._save(frame, i, "nochange"))
                time.sleep(0.1)
        if self._expect_change(i) and not self._changed(before):
            raise ReplayFailed(i, f"the screen did not change within {self.opt.change_timeout:g} s after the "
                                  f"{what}, although it did while recording", self._save(before, i, "nochange"))

    def _changed(self, before: Frame) -> bool:
        deadline = time.monotonic() + self.opt.change_timeout
        after = self.runner.observe().frame
        while True:
            if after is not None and frames_differ(before.image, after.image, tolerance=8):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
            after = self.runner.observe(fresh=True).frame

    def _dry(self, i: int, action: Action, info: dict, frame: Frame | None) -> None:
        """Draw where the step would act; act on nothing."""
        frame = frame or self._observe(fresh=True)
        img = frame.image.copy()
        d = ImageDraw.Draw(img)
        for x, y in action.points():
            x, y = x - frame.left, y - frame.top
            d.ellipse((x - 14, y - 14, x + 14, y + 14), outline=(255, 0, 0), width=3)
            d.text((x + 16, y - 8), str(i), fill=(255, 0, 0))
        d.text((8, 8), f"step {i}: {action.describe()}", fill=(255, 0, 0))
        rel = self.writer.add_image(encode(img), step=i, label="dryrun", ext="png")
        self.writer.append({"replay_of": i, "action": action.to_json(), "ok": True, "dry_run": True,
                            "screenshot": rel, "screen_area": [frame.left, frame.top, frame.width, frame.height],
                            "image_size": [frame.width, frame.height], "grounding": info or None})
        self.on_step(i, f"{action.describe()}  (dry run) {info.get('method', '')}".rstrip())


def _live_window(e: Element) -> tuple | None:
    """The live box of the top-level window an element is in (for ``resolve.find``'s tie-break)."""
    win = window_at(*map(int, e.center))
    return tuple(win["box"]) if win else None


def default_out(folder: Path) -> Path:
    return Path("runs") / f"{folder.name}-replay-{time.strftime('%Y%m%d-%H%M%S')}"
