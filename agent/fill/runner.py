"""Run a fill script over data rows: ground each step on the settled screen, act, verify.

Every action goes through the ``StepRunner`` (settle waits, trajectory) and so the safe executor
(bounds, risky-word confirmation, kill hotkey, caps). Elements are found by what they show, through
any ``Grounder`` (offline OCR, templates, a VLM, or a chain of them).

Waiting belongs here, not in the grounders: ``_locate`` re-captures and asks again until the step's
timeout, then the ``ElementNotFound`` is re-raised naming the saved screenshot. A step failure is
data for the run (``StepFailed``); the step's ``on_error`` decides: ``retry`` the step, ``skip_row``
(record the failure, run the script's ``reset`` steps, go on) or ``stop`` the run. A ``SafetyStop``
is never caught here — a person or a cap ended the run.

Verification is part of the steps: ``select`` reads the field back, ``check`` reads the tick box
back, ``expect`` / ``wait_for`` look for text with a stricter match than clicking does (0.9), so a
previous row's "Saved: Ada" does not pass for this row's "Saved: Alan".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from actions import secrets
from actions.coords import ImageMap, Rect
from actions.space import Action, Click, Hotkey, KeyPress, Scroll, TypeText, Wait
from agent.fill.results import RowResult
from agent.fill.script import MissingValue, Script, Step, Target, as_bool, check_row, substitute
from agent.screen import encode
from agent.steps import StepRunner
from model.ground_text import checkbox_state
from model.grounding import AmbiguousMatch, ElementNotFound, Grounder, GroundingError, Match, Query, Shot

EXPECT_SCORE = 0.9


class StepFailed(Exception):
    """A step could not be done; the message says why, for the results file and the person."""


class ExpectationFailed(StepFailed):
    """An ``expect`` / ``wait_for`` did not hold within its time: the screen was read and the text
    was (not) there. An ``already_done`` check reads this as "not done" — and only this."""


class _Skip(Exception):
    """An optional value is empty: the step is skipped."""


class FillRunner:
    def __init__(self, script: Script, runner: StepRunner, grounder: Grounder, *, out: Path,
                 on_step: Callable[[int, int, str], None] | None = None) -> None:
        self.script, self.runner, self.grounder = script, runner, grounder
        self.out = out
        self.on_step = on_step or (lambda row, i, desc: None)
        self._templates: dict[str, Image.Image] = {}
        self._row, self._step = 0, 0
        self.acted = 0  # actions done in the current row (a stop after the first one leaves it uncertain)

    @property
    def step(self) -> int | None:
        """The step of the current row being run (None before its first)."""
        return self._step or None

    # observation and grounding -----------------------------------------------------------------
    def shot(self, fresh: bool = False) -> Shot:
        obs = self.runner.observe(fresh=fresh)
        if obs is None:
            raise StepFailed("no screen to look at (a display is needed to find elements)")
        f = obs.frame
        return Shot(f.image, ImageMap(obs.map.area, f.width, f.height))

    def _template(self, name: str) -> Image.Image:
        if name not in self._templates:
            base = self.script.path.parent if self.script.path else Path(".")
            try:
                self._templates[name] = Image.open(base / name).convert("RGB")
            except OSError as e:
                raise StepFailed(f"cannot read the image {name!r}: {e}") from None
        return self._templates[name]

    def query(self, t: Target, row: dict, role: str = "any", min_score: float = 0.8) -> Query:
        sub = (lambda s: substitute(s, row)[0] if s else s)
        return Query(text=sub(t.text), template=self._template(t.image) if t.image else None,
                     role=role if t.text else "any", nth=t.nth, near=sub(t.near),
                     region=Rect(*t.region) if t.region else None, description=sub(t.description),
                     min_score=min_score)

    def save_shot(self, shot: Shot, tag: str) -> str:
        folder = self.out / "errors"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"row-{self._row:04d}-step-{self._step:02d}-{tag}.png"
        path.write_bytes(encode(self.runner.masker.apply(shot.image, shot.image), "png"))  # secrets covered
        return str(path)

    def locate(self, q: Query, timeout: float) -> tuple[Match, Shot]:
        """Find ``q``, re-capturing until ``timeout``; ElementNotFound then names the screenshot."""
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            shot = self.shot(fresh)
            try:
                return self.grounder.locate(shot, q), shot
            except AmbiguousMatch:
                raise
            except ElementNotFound as e:
                if time.monotonic() >= deadline:
                    raise e.with_screenshot(self.save_shot(shot, "not-found")) from None
            time.sleep(0.05)
            fresh = True

    def find(self, q: Query) -> Match | None:
        """``q`` on the current screen, or None (no waiting)."""
        try:
            return self.grounder.locate(self.shot(), q)
        except ElementNotFound:
            return None

    # acting ------------------------------------------------------------------------------------
    def act(self, action: Action, desc: str, match: Match | None = None) -> None:
        extra = {"row": self._row, "step": self._step, "step_name": secrets.mask(desc)}
        if match is not None:
            b = match.box
            extra["match"] = {"box": [round(b.left, 1), round(b.top, 1), round(b.width, 1), round(b.height, 1)],
                              "score": round(match.score, 3), "method": match.method, "text": match.text}
        o = self.runner.act(action, thought=f"row {self._row} step {self._step}: {desc}", extra=extra)
        self.acted += 1
        if not o.result.ok:
            raise StepFailed(o.result.error or "the action failed")

    def click(self, m: Match, label: str, desc: str, clicks: int = 1) -> None:
        self.act(Click(*m.center, clicks=clicks, target=label), desc, m)

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
        a, v, desc = step.action, getattr(step, step.action), step.describe()
        if a in ("click", "double_click"):
            m, _ = self.locate(self.query(v, row), self.timeout(step))
            self.click(m, v.label(), desc, clicks=2 if a == "double_click" else 1)
        elif a == "type":
            text, empty = substitute(v.text, row)
            if empty and not text:
                raise _Skip()
            if v.into is not None:
                m, _ = self.locate(self.query(v.into, row, "field"), self.timeout(step))
                self.click(m, v.into.label(), desc)
            if v.clear:
                self.act(KeyPress("end"), desc)
                self.act(Hotkey(("shift", "home")), desc)
                self.act(KeyPress("backspace"), desc)
            self.act(TypeText(text), desc)
            if v.enter:
                self.act(KeyPress("enter"), desc)
        elif a == "select":
            self.select(v, row, desc, self.timeout(step))
        elif a == "check":
            self.check(v, row, desc, self.timeout(step))
        elif a == "choose":
            raise StepFailed("choose (radio groups) needs the element model; not in this build yet")
        elif a == "press":
            self.act(KeyPress(v.key, v.presses), desc)
        elif a == "hotkey":
            self.act(Hotkey(tuple(v)), desc)
        elif a == "wait":
            self.act(Wait(v), desc)
        elif a == "scroll":
            m = self.locate(self.query(v.at, row), self.timeout(step))[0] if v.at else None
            x, y = m.center if m else (None, None)
            self.act(Scroll(dy=v.dy, dx=v.dx, x=x, y=y), desc, m)
        elif a in ("wait_for", "expect"):
            text, _ = substitute(v.text, row)
            limit = v.timeout if a == "expect" else (v.timeout or self.timeout(step))
            self.wait_text(text, limit, gone=a == "wait_for" and v.gone)
        elif a == "if_present":
            present = self.find(self.query(v.target, row)) is not None
            for sub in v.then if present else v.otherwise:
                try:
                    self.run_step(sub, row)
                except _Skip:
                    pass

    def select(self, v, row: dict, desc: str, timeout: float) -> None:
        option, empty = substitute(v.option, row)
        if empty and not option:
            raise _Skip()
        field, shot = self.locate(self.query(v.field, row, "field"), timeout)
        self.click(field, v.field.label(), desc)
        screen = shot.map.area
        below = Rect(screen.left, field.box.bottom - 1, screen.width, screen.bottom - field.box.bottom + 1)
        above = Rect(screen.left, screen.top, screen.width, max(1.0, field.box.top - screen.top))
        try:
            m, _ = self.locate(Query(text=option, role="text", region=below), timeout)
        except ElementNotFound as e:
            m = self.find(Query(text=option, role="text", region=above))
            if m is None:
                self.act(KeyPress("escape"), desc)
                raise StepFailed(f"option {option!r} is not in the list opened by {v.field.label()!r}"
                                 f"{'; best: ' + ', '.join(repr(c.text) for c in e.candidates[:3]) if e.candidates else ''}"
                                 f"{'; screenshot ' + e.screenshot if e.screenshot else ''}") from None
        self.click(m, option, desc)
        if self.find(Query(text=option, role="text", region=field.box, min_score=0.8)) is None:
            shot = self.shot(fresh=True)
            raise StepFailed(f"chose {option!r} but {v.field.label()!r} does not show it "
                             f"(screenshot {self.save_shot(shot, 'select')})")

    def check(self, v, row: dict, desc: str, timeout: float) -> None:
        if isinstance(v.value, str):
            raw, empty = substitute(v.value, row)
            if empty and not raw:
                raise _Skip()
            want = as_bool(raw)
        else:
            want = v.value
        m, shot = self.locate(self.query(v.label, row, "text"), timeout)
        state = self._tick(shot, m)
        if state is want:
            return
        if state is None and not want:
            return  # no tick box seen and nothing to tick: clicking would be a blind toggle
        self.click(m, v.label.label(), desc)
        if state is not None:
            after = self.shot(fresh=True)
            again = self.find(self.query(v.label, row, "text"))
            if again is not None and self._tick(after, again) is not want:
                raise StepFailed(f"clicked {v.label.label()!r} but its tick box is still "
                                 f"{'un' if want else ''}ticked (screenshot {self.save_shot(after, 'check')})")

    @staticmethod
    def _tick(shot: Shot, m: Match) -> bool | None:
        import numpy as np

        x0, y0 = shot.map.screen_to_image(m.box.left, m.box.top)
        x1, y1 = shot.map.screen_to_image(m.box.right, m.box.bottom)
        return checkbox_state(np.asarray(shot.image.convert("RGB")), (x0, y0, x1 - x0, y1 - y0))

    def wait_text(self, text: str, timeout: float, gone: bool = False) -> None:
        q = Query(text=text, role="text", min_score=EXPECT_SCORE)
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            shot = self.shot(fresh)
            try:
                self.grounder.locate(shot, q)
                found, best = True, []
            except AmbiguousMatch:
                found, best = True, []
            except ElementNotFound as e:
                found, best = False, e.candidates
            if found != gone:
                return
            if time.monotonic() >= deadline:
                seen = "; best on screen: " + ", ".join(repr(c.text) for c in best[:3]) if best else ""
                what = "is still on screen" if gone else "did not appear"
                raise ExpectationFailed(f"text {text!r} {what} within {timeout:g} s{seen} "
                                 f"(screenshot {self.save_shot(shot, 'expect')})")
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
                try:
                    self.locate(self.query(check.target, row), self.script.timeout)
                    return True
                except AmbiguousMatch:
                    return True
                except ElementNotFound:
                    return False
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
            a, v = step.action, getattr(step, step.action)
            target, role = {"click": (v, "any"), "double_click": (v, "any"), "type": (getattr(v, "into", None), "field"),
                            "select": (getattr(v, "field", None), "field"), "check": (getattr(v, "label", None), "text"),
                            "scroll": (getattr(v, "at", None), "any")}.get(a, (None, "any"))
            if target is None:
                continue
            try:
                m = self.grounder.locate(shot, self.query(target, row, role))
            except (GroundingError, MissingValue, StepFailed) as e:
                problems.append(f"step {i} ({step.describe()}): {e}")
                continue
            (x0, y0), (x1, y1) = shot.map.screen_to_image(m.box.left, m.box.top), shot.map.screen_to_image(m.box.right, m.box.bottom)
            draw.rectangle([x0, y0, x1, y1], outline=(0, 200, 0), width=3)
            draw.text((x1 + 4, y0), f"{i}: {secrets.mask(step.describe())}", fill=(220, 0, 0))
        for k, p in enumerate(problems):
            draw.text((8, 8 + 14 * k), secrets.mask(p)[:160], fill=(255, 0, 0))
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        return RowResult(n, "dry-run", "; ".join(problems) or None, None, time.monotonic() - t0)
