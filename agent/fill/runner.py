"""Run a fill script over data rows: find each step's target on the settled screen, act, read back.

Every action goes through the ``StepRunner`` (settle waits, trajectory) and so the safe executor
(bounds, the risky-action gate, kill hotkey, caps). Targets are found on the screen element model
(``agent.fill.targets``: the accessibility tree or the visual parse, by role, name, row and group),
with the OCR text grounder as the fallback where the model has nothing; the element-shaped steps
(type, select, choose, check) read their element back after acting (``agent.fill.controls``), and
``date`` steps a date picker (``agent.fill.dates``).

Each step is first *resolved* against the data row (``agent.fill.variables.resolve``): every
``{column}`` in every string is substituted, and a step whose optional ``{column?}`` is empty is
skipped. Waiting belongs here, not in the sources: a target is looked for again on fresh screens until
the step's timeout. A step failure is data for the run (``StepFailed``, ``GroundingError``); the
step's ``on_error`` decides: ``retry`` the step, ``skip_row`` (record the failure, run the script's
``reset`` steps, go on) or ``stop`` the run. A ``SafetyStop`` is never caught here — a person or a
cap ended the run.

``expect`` / ``wait_for`` look for free text: on the element model first (a line holding the text as
whole words, or a near-exact line), the OCR text grounder when the model does not show it by the
deadline (and always without a model), with a stricter match than clicking (0.9), so a previous
row's "Saved: Ada" does not pass for this row's "Saved: Alan".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PIL import ImageDraw

from actions import secrets
from actions.space import Action, Click, Hotkey, KeyPress, Scroll, Wait
from agent.elements.ground import contains_words
from agent.elements.model import reading_order
from agent.fill.controls import Controls
from agent.fill.dates import pick_date
from agent.fill.results import RowResult
from agent.fill.script import MissingValue, Script, Step, check_row, resolve
from agent.fill.targets import Finder, Hit, StepFailed, TargetError
from agent.screen import encode
from agent.steps import StepRunner
from model.ground_text import text_score
from model.grounding import AmbiguousMatch, ElementNotFound, Grounder, GroundingError, Query, Shot

__all__ = ["ExpectationFailed", "FillRunner", "StepFailed"]

EXPECT_SCORE = 0.9
_LINE_ROLES = frozenset({"text", "label", "heading"})
#: The step kind (``agent.fill.targets.KIND_ROLES``) a dry run looks up for each action's target.
_TARGETS = {"click": ("click", lambda v: v), "double_click": ("click", lambda v: v),
            "type": ("field", lambda v: v.into), "select": ("field", lambda v: v.field),
            "check": ("check", lambda v: v.label), "date": ("click", lambda v: v.field),
            "scroll": ("any", lambda v: v.at)}


def screen_texts(model) -> list[str]:
    """Every text the model shows: each element's name and value, and each line of text elements
    joined (the visual parse may split "Saved: Ada Lovelace" at its colon into two)."""
    out, line, last = [], [], None
    for e in reading_order(x for x in model if x.role in _LINE_ROLES and x.name):
        b = e.bounds
        h = max(b.height, last.height) if last is not None else 0
        if last is not None and abs((b.top + b.height / 2) - (last.top + last.height / 2)) <= h / 2 \
                and 0 <= b.left - last.right <= 2.5 * h:
            line.append(e.name)
        else:
            if len(line) > 1:
                out.append(" ".join(line))
            line = [e.name]
        last = b
    if len(line) > 1:
        out.append(" ".join(line))
    return [t for e in model if e.role != "row" for t in e.texts()] + out


class ExpectationFailed(StepFailed):
    """An ``expect`` / ``wait_for`` did not hold within its time: the screen was read and the text
    was (not) there. An ``already_done`` check reads this as "not done" — and only this."""


class _Skip(Exception):
    """An optional value is empty: the step is skipped."""


class FillRunner:
    def __init__(self, script: Script, runner: StepRunner, grounder: Grounder, *, out: Path,
                 on_step: Callable[[int, int, str], None] | None = None, elements: bool = True) -> None:
        self.script, self.runner, self.grounder = script, runner, grounder
        self.out = out
        self.on_step = on_step or (lambda row, i, desc: None)
        self.finder = Finder(runner, grounder, base=script.path.parent if script.path else None, save_shot=self.save_shot,
                             elements=elements)  # elements=False: every target through ``grounder`` alone
        self.controls = Controls(self)
        self._row, self._step = 0, 0
        self._spent_mark = 0.0  # ``finder.spent`` at the last action (each action records the grounding since)
        self.acted = 0  # actions done in the current row (a stop after the first one leaves it uncertain)

    @property
    def step(self) -> int | None:
        """The step of the current row being run (None before its first)."""
        return self._step or None

    def shot(self, fresh: bool = False) -> Shot:
        return self.finder.shot(fresh)

    def save_shot(self, shot: Shot, tag: str) -> str:
        folder = self.out / "errors"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"row-{self._row:04d}-step-{self._step:02d}-{tag}.png"
        path.write_bytes(encode(self.runner.masker.apply(shot.image, shot.image), "png"))  # secrets covered
        return str(path)

    # acting ------------------------------------------------------------------------------------
    def act(self, action: Action, desc: str, hit: Hit | None = None) -> None:
        extra = {"row": self._row, "step": self._step, "step_name": secrets.mask(desc),
                 "ground_s": round(self.finder.spent - self._spent_mark, 4)}
        self._spent_mark = self.finder.spent
        if hit is not None:
            extra["match"] = hit.to_json()
        o = self.runner.act(action, thought=f"row {self._row} step {self._step}: {desc}", extra=extra)
        self.acted += 1
        if not o.result.ok:
            raise StepFailed(o.result.error or "the action failed")

    def click(self, hit: Hit, desc: str, clicks: int = 1) -> None:
        label = hit.element.label() if hit.element is not None else (hit.text or desc)
        self.act(Click(*hit.center, clicks=clicks, target=label), desc, hit)

    # one row -----------------------------------------------------------------------------------
    def start_row(self, n: int) -> None:
        """Row ``n`` begins (its screenshots and trajectory steps are named after it)."""
        self._row, self._step, self.acted = n, 0, 0

    def run_row(self, n: int, row: dict[str, str]) -> tuple[RowResult, bool]:
        """Run every step for data row ``n``; returns the result and whether the run must stop."""
        t0 = time.monotonic()
        self.start_row(n)
        missing = check_row(self.script, row)
        if missing:
            err = ", ".join(repr(m) for m in missing)
            stop = self.script.on_error == "stop"
            return RowResult(n, "failed", f"required value {err} is empty or missing", None,
                             time.monotonic() - t0), stop
        for i, step in enumerate(self.script.steps, start=1):
            self._step = i
            policy = step.on_error or self.script.on_error
            tries = 1 + ((step.retries if step.retries is not None else self.script.retries) if policy == "retry" else 0)
            for attempt in range(tries):
                try:
                    self.on_step(n, i, step.describe())
                    self.run_step(step, row)
                    break
                except _Skip:
                    break
                except (StepFailed, GroundingError, MissingValue) as e:
                    if attempt + 1 < tries and not isinstance(e, MissingValue):
                        self.runner.observe(fresh=True)
                        continue
                    msg = secrets.mask(f"step {i} ({step.describe()}): {e}")
                    try:
                        self.reset(row)
                    except StepFailed as r:
                        return RowResult(n, "failed", f"{msg}; {secrets.mask(str(r))}", i, time.monotonic() - t0), True
                    return RowResult(n, "failed", msg, i, time.monotonic() - t0), policy == "stop"
        return RowResult(n, "ok", None, None, time.monotonic() - t0), False

    def reset(self, row: dict) -> None:
        """Run the script's ``reset`` steps after a failed row; a failing reset ends the run."""
        for step in self.script.reset:
            try:
                self.run_step(step, row)
            except _Skip:
                pass
            except (StepFailed, GroundingError, MissingValue) as e:
                raise StepFailed(f"the reset steps failed too ({e}); the screen is in an unknown state") from None

    def timeout(self, step: Step) -> float:
        return step.timeout if step.timeout is not None else self.script.timeout

    def run_step(self, step: Step, row: dict) -> None:
        s = resolve(step, row)
        if s is None:
            raise _Skip()
        a, v, desc, limit = s.action, getattr(s, s.action), s.describe(), self.timeout(s)
        c = self.controls
        if a in ("click", "double_click"):
            self.click(self.finder.find(v, "click", limit), desc, clicks=2 if a == "double_click" else 1)
        elif a == "type":
            c.type_into(v, desc, limit)
        elif a == "select":
            c.select(v, desc, limit)
        elif a == "choose":
            c.choose(v, desc, limit)
        elif a == "check":
            c.check(v, desc, limit)
        elif a == "date":
            pick_date(self, v, desc, limit)
        elif a == "press":
            self.act(KeyPress(v.key, v.presses), desc)
        elif a == "hotkey":
            self.act(Hotkey(tuple(v)), desc)
        elif a == "wait":
            self.act(Wait(v), desc)
        elif a == "scroll":
            hit = self.finder.find(v.at, "any", limit) if v.at else None
            x, y = hit.center if hit else (None, None)
            self.act(Scroll(dy=v.dy, dx=v.dx, x=x, y=y), desc, hit)
        elif a in ("wait_for", "expect"):
            self.wait_text(v.text, v.timeout if a == "expect" else (v.timeout or limit), gone=a == "wait_for" and v.gone)
        elif a == "if_present":
            present = self.finder.find_now(v.target, "any") is not None
            for sub in v.then if present else v.otherwise:
                try:
                    self.run_step(sub, row)
                except _Skip:
                    pass

    # free text ---------------------------------------------------------------------------------
    def _in_model(self, text: str, fresh: bool) -> tuple[bool | None, list[str]]:
        """Is ``text`` on the element model's screen (None: no model)? And the closest lines."""
        model = self.finder.model(fresh)
        if model is None:
            return None, []
        scored = []
        for t in screen_texts(model):
            if contains_words(t, text):
                return True, []
            scored.append((text_score(text, t)[0], t))
        scored.sort(key=lambda p: -p[0])
        if scored and scored[0][0] >= EXPECT_SCORE:
            return True, []
        return False, [t for s, t in scored[:3] if s > 0.3]

    def _by_ocr(self, text: str, shot: Shot) -> tuple[bool, list[str]]:
        try:
            self.grounder.locate(shot, Query(text=text, role="text", min_score=EXPECT_SCORE))
            return True, []
        except AmbiguousMatch:
            return True, []
        except ElementNotFound as e:
            return False, [c.text or "" for c in e.candidates[:3]]

    def wait_text(self, text: str, timeout: float, gone: bool = False) -> None:
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            found, best = self._in_model(text, fresh)
            late = time.monotonic() >= deadline
            if found is None or (not found and not gone and late):  # no model, or the model's last chance is up
                found, best = self._by_ocr(text, self.shot(fresh and found is None))
            if found != gone:
                return
            if late:
                seen = "; closest on screen: " + ", ".join(repr(t) for t in best) if best else ""
                what = "is still on screen" if gone else "did not appear"
                raise ExpectationFailed(f"text {text!r} {what} within {timeout:g} s{seen} "
                                        f"(screenshot {self.save_shot(self.shot(), 'expect')})")
            time.sleep(0.05)
            fresh = True

    # resuming: rows a cut run left uncertain -----------------------------------------------------
    def already_done(self, n: int, row: dict[str, str]) -> bool:
        """Run the script's ``already_done`` check for row ``n``: True when the row's effect is on
        screen, False when the check looked and it is not. ``StepFailed`` when the check could not
        decide (a step before the expectation failed, no screen): the row must stay uncertain."""
        check = self.script.already_done
        if check is None:
            raise StepFailed("the script has no already_done check")
        self.start_row(n)
        try:
            if check.target is not None:
                resolved = resolve(check, row)
                if resolved is None:
                    raise StepFailed("already_done uses an optional value that is empty in this row")
                try:
                    self.finder.find(resolved.target, "any", self.script.timeout)
                    return True
                except TargetError:
                    return False
                except GroundingError:  # there, more than once
                    return True
            *before, last = check.steps
            for step in before:
                try:
                    self.run_step(step, row)
                except _Skip:
                    pass
            try:
                self.run_step(last, row)
                return True
            except ExpectationFailed:
                return False
        except (GroundingError, MissingValue) as e:
            raise StepFailed(f"the already_done check could not decide: {e}") from None
        except ExpectationFailed as e:
            raise StepFailed(f"the already_done check could not decide (a step before its last failed): {e}") from None

    # dry run -----------------------------------------------------------------------------------
    def annotate(self, n: int, row: dict[str, str], path: Path) -> RowResult:
        """Where each step would act on the current screen, drawn on a screenshot; nothing is touched."""
        t0 = time.monotonic()
        self._row = n
        shot = self.shot(fresh=True)
        img = shot.image.convert("RGB").copy()
        draw = ImageDraw.Draw(img)
        problems = [f"required value {m!r} is empty" for m in check_row(self.script, row)]
        for i, step in enumerate(self.script.steps, start=1):
            try:
                s = resolve(step, row)
                if s is None or s.action not in _TARGETS and s.action != "choose":
                    continue
                v = getattr(s, s.action)
                if s.action == "choose":
                    hit = self.controls.radio(v, 0)
                else:
                    kind, target = _TARGETS[s.action]
                    if target(v) is None:
                        continue
                    hit = self.finder.find(target(v), kind, 0)
            except (StepFailed, GroundingError, MissingValue) as e:
                problems.append(f"step {i} ({step.describe()}): {e}")
                continue
            x0, y0 = shot.map.screen_to_image(hit.box.left, hit.box.top)
            x1, y1 = shot.map.screen_to_image(hit.box.right, hit.box.bottom)
            draw.rectangle([x0, y0, x1, y1], outline=(0, 200, 0), width=3)
            draw.text((x1 + 4, y0), f"{i}: {secrets.mask(step.describe())}", fill=(220, 0, 0))
        for k, p in enumerate(problems):
            draw.text((8, 8 + 14 * k), secrets.mask(p)[:160], fill=(255, 0, 0))
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        return RowResult(n, "dry-run", "; ".join(problems) or None, None, time.monotonic() - t0)
