"""The oracle policy's toolbox: scripted solutions act through the same executor as the model does.

An oracle proves the *harness*, not the agent: if a scripted solution that clicks, types and presses
keys through ``StepRunner`` → ``Executor`` → pyautogui → X server scores 100 %, then the set-up, the
apps, the evaluators and the executor are right, and a model's failures are the model's.

Grounding (``grounding=``):

* ``"ocr"``  find each element by what the screen shows (``model.ground_text.OcrGrounder``: OCR +
  fuzzy text + label-to-field); elements with no text of their own (a text area) use the app's
  reported geometry, and a text the OCR cannot find falls back to it too, counted in ``fallbacks``;
* ``"ocr-strict"``  the same without the fallback (the demo: proves grounding by pixels on screen);
* ``"app"``  the boxes the app reports in its state file: fast, for large evaluation runs.

Risky steps: the oracle approves exactly the actions its script marks ``approve=True`` (the "Pay"
click) and nothing else, and only when the run allows approval (``--no-approve`` shows the executor
refusing and the booking not being made).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from actions.space import Action, Click, Done, Fail, Hotkey, KeyPress, TypeText
from agent.steps import StepRunner
from tasks.environment import AppHandle


class OracleError(Exception):
    """A scripted solution could not proceed (an element missing, the app never reached a page)."""


@dataclass
class OracleApprover:
    """A confirmer that says yes only to the risky action the script is about to perform."""

    allowed: bool = True
    pending: bool = False
    approvals: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def __call__(self, description: str, reason: str) -> bool:
        ok = self.allowed and self.pending
        (self.approvals if ok else self.refusals).append(reason)
        return ok


class OracleContext:
    """What a scripted solution may do: find elements, click, type, press, wait for the app, end."""

    def __init__(self, runner: StepRunner, app: AppHandle, approver: OracleApprover, *,
                 grounding: str = "app", grounder: Any = None) -> None:
        if grounding not in ("app", "ocr", "ocr-strict"):
            raise ValueError(f"grounding must be app, ocr or ocr-strict, got {grounding!r}")
        self.runner, self.app, self.approver = runner, app, approver
        self.grounding = grounding
        self.grounder = grounder
        self.ending: str | None = None
        self.answer: str | None = None
        self.fallbacks: list[str] = []
        self.seen_text: str | None = None
        self.located: list[dict] = []
        self.on_act: Callable[[Action, Any], None] | None = None  # e.g. the demo's live log

    # reading the app ------------------------------------------------------------------------------
    def state(self) -> dict:
        return self.app.state()

    def wait(self, pred: Callable[[dict], bool], what: str, timeout: float = 30.0) -> dict:
        s = self.app.wait_state(pred, timeout)
        try:
            ok = bool(pred(s))
        except (KeyError, TypeError, IndexError):
            ok = False
        if not ok:
            raise OracleError(f"the app never reached: {what} (page {s.get('page')!r}, status {s.get('status')!r})")
        return s

    def box(self, key: str) -> list[int]:
        s = self.wait(lambda st: key in st["widgets"], f"widget {key!r} shown")
        return s["widgets"][key]

    # grounding ------------------------------------------------------------------------------------
    def locate(self, key: str, text: str | None = None, *, role: str = "any", **query: Any) -> tuple[float, float]:
        """Screen point of an element: by its ``text`` on screen (OCR modes), else by the app's ``key``."""
        if text is not None and self.grounding != "app":
            from model.grounding import GroundingError, Query, Shot

            obs = self.runner.observe()
            f = obs.frame
            shot = Shot.full(f.image, f.left, f.top)
            try:
                m = self.grounder.locate(shot, Query(text=text, role=role, **query))
                self.located.append({"text": text, "method": m.method, "score": round(m.score, 3),
                                     "box": [round(v) for v in (m.box.left, m.box.top, m.box.width, m.box.height)]})
                self.seen_text = m.text
                return m.center
            except GroundingError as e:
                if self.grounding == "ocr-strict":
                    raise OracleError(str(e)) from None
                self.fallbacks.append(f"{text!r}: {e}")
        x, y, w, h = self.box(key)
        return x + w / 2, y + h / 2

    # acting ---------------------------------------------------------------------------------------
    def act(self, action: Action, thought: str | None = None):
        o = self.runner.act(action, thought=thought)
        if self.on_act is not None:
            self.on_act(action, o)
        if not o.result.ok:
            raise OracleError(f"{action.describe()} failed: {o.result.error}")
        return o

    def click(self, key: str, text: str | None = None, *, role: str = "any", approve: bool = False,
              target: str | None = None, **query: Any) -> None:
        self.seen_text = None
        x, y = self.locate(key, text, role=role, **query)
        self.approver.pending = approve
        try:  # the target is what the screen said there, which the safety layer reads
            self.act(Click(x, y, target=target or self.seen_text or text or key), thought=f"click {text or key}")
        finally:
            self.approver.pending = False

    def fill(self, key: str, label: str | None, value: str) -> None:
        """Click the input labelled ``label`` (or the app's ``key``) and type ``value`` into it."""
        self.click(key, label, role="field", target=f"{label or key} field")
        self.act(TypeText(value), thought=f"type into {label or key}")

    def type(self, text: str) -> None:
        self.act(TypeText(text), thought="type")

    def press(self, key: str) -> None:
        self.act(KeyPress(key), thought=f"press {key}")

    def hotkey(self, *keys: str) -> None:
        self.act(Hotkey(tuple(keys)), thought="+".join(keys))

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def done(self, answer: str | None = None) -> None:
        self.act(Done(answer), thought="the goal is reached")
        self.ending, self.answer = "done", answer

    def fail(self, reason: str) -> None:
        self.act(Fail(reason), thought=reason)
        self.ending, self.answer = "fail", reason


Solution = Callable[[OracleContext, dict[str, Any]], None]
SOLUTIONS: dict[str, Solution] = {}


def solution(name: str) -> Callable[[Solution], Solution]:
    def deco(fn: Solution) -> Solution:
        SOLUTIONS[name] = fn
        return fn
    return deco


def get_solution(name: str | None) -> Solution:
    import tasks.solutions  # noqa: F401 - registers the scripts
    import tasks.solutions_web  # noqa: F401

    if name is None or name not in SOLUTIONS:
        raise OracleError(f"no oracle solution {name!r}; known: {', '.join(sorted(SOLUTIONS))}")
    return SOLUTIONS[name]
