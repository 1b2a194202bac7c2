"""What ``agent run`` shows the model each step, and how an answer that names an element is carried out.

Three observation modes (``--observe``, config key ``observe``):

* ``screenshot`` — the settled screenshot only: GLM-4.5V's official format, the default;
* ``screenshot+elements`` — the screenshot plus a compact list of the interactive elements from the
  element model (``agent.elements``: role, name, value, states, context, centre and size; OSWorld's
  "screenshot + accessibility tree" observation), each named by its element id; the model may still
  answer with a point;
* ``som`` — Set-of-Mark: a numbered mark drawn on the screenshot for every listed element
  (``agent.elements.overlay``) and the same list beside it, named by mark number (how GLM-4.5V is
  scored on WebVoyager, and how models without grounding of their own can act at all).

The list is capped in estimated tokens (``model.marks.fit``) and the same elements are drawn and
listed. ``model/`` may not import ``agent/``, so the families get the list as ``model.marks`` data
and hand back an ``ElementAction``; :func:`act` performs it through the ``StepRunner`` — the safe
executor, the risky gate (a click carries the element's label as its target) and the trajectory
(every part of it records ``element``: id, mark, role, name, box) — at the element's centre:

* click / double / right / middle click, hover, scroll at the element;
* type into it: a click (a triple click with ``clear``), then the text;
* select an option by name: a click that opens the list, then the option itself when the list shows
  it as an element (a custom list box), else the option's text typed and Enter (a native drop-down
  jumps to the option typed); afterwards the element's value is read back and a mismatch goes to the
  model as an error ("the drop-down shows …").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from actions.space import Click, KeyPress, TypeText
from agent.elements.model import Element, ScreenModel, clean_text
from agent.steps import Observation, StepOutcome, StepRunner
from model.base import ImagePart
from model.family import ParsedStep
from model.marks import (DEFAULT_TOKENS, OBSERVE_MODES, ElementAction, ElementList, Mark, context_of,
                         estimate_tokens, fit, observe_mode, render_table)

#: Roles that list the options of an opened drop-down.
_OPTION_ROLES = ("option", "listitem", "menuitem")


@dataclass(frozen=True)
class View:
    """One step's observation as the model gets it: the image (with marks in ``som``) and the list."""

    mode: str
    image: ImagePart
    elements: ElementList | None = None
    note: str | None = None  # why the list is empty (the element model failed)
    build_s: float = 0.0

    def record(self) -> dict[str, Any]:
        """What the trajectory keeps of it: the mode, the list (tab-separated, thousandths), its size and hash."""
        if self.elements is None:
            return {} if self.mode == "screenshot" else {"observation": {"mode": self.mode, "note": self.note}}
        table = render_table(self.elements)
        return {"observation": {"mode": self.mode, "listed": len(self.elements.marks),
                                "omitted": self.elements.omitted, "tokens": estimate_tokens(table),
                                "sha": self.elements.digest(), "build_s": round(self.build_s, 4),
                                "note": self.note, "list": table}}


def _mark(e: Element, ref: str) -> Mark:
    states = set(e.states)
    if e.source in ("a11y", "both") and "enabled" not in states:  # the tree says enabled; pixels cannot
        states.add("disabled")
    return Mark(ref, e.id, e.role, e.name, e.bounds, value=e.value, states=tuple(sorted(states)),
                context=context_of(e.role, e.row, e.group))


def candidates(model: ScreenModel) -> list[Element]:
    """The interactive elements a person can see, in reading order (the model's own order)."""
    a = model.area
    return [e for e in model.interactive() if e.bounds.width >= 2 and e.bounds.height >= 2
            and a.left <= e.center[0] < a.right and a.top <= e.center[1] < a.bottom]


def build_view(runner: StepRunner, obs: Observation, *, mode: str, image_format: str = "png",
               max_tokens: int = DEFAULT_TOKENS) -> View:
    """The model's view of ``obs`` in ``mode`` (module docstring)."""
    if mode == "screenshot":
        return View(mode, obs.encoded(image_format))  # made once, while the screen settled
    if runner.modeler is None:
        raise ValueError(f"--observe {mode} needs the screen element model (a StepRunner built with elements=)")
    t = time.monotonic()
    note = None
    try:
        model = runner.elements()
        found = candidates(model) if model is not None else []
    except Exception as e:  # noqa: BLE001 - the screenshot still serves; the model may answer with points
        found, note = [], f"the element model failed: {type(e).__name__}: {e}"
    som = mode == "som"
    marks = [_mark(e, str(i + 1) if som else e.id) for i, e in enumerate(found)]
    chosen = fit(marks, obs.map, max_tokens)
    elements = ElementList(chosen, "marks" if som else "ids", obs.map, total=len(marks))
    image = obs.image
    if som and chosen:
        from agent.elements.overlay import draw_marks

        shown = [found[int(m.ref) - 1] for m in chosen]
        image = draw_marks(obs.image, shown, obs.map, labels=[m.ref for m in chosen])
    part = obs.encoded(image_format) if image is obs.image else ImagePart.from_image(image, image_format)
    return View(mode, part, elements, note, time.monotonic() - t)


# --- acting on an element -----------------------------------------------------------------------

def described(parsed: ParsedStep) -> str:
    """The step in words for the console: the element action (``type 'Ber' into combobox 'From' [1]``)
    or the plain action."""
    return parsed.element.describe() if parsed.element is not None else parsed.action.describe()


def act(runner: StepRunner, parsed: ParsedStep, *, thought: str | None, extra: dict[str, Any]) -> StepOutcome:
    """Perform ``parsed``: its one action, or every part of the element action it names (module
    docstring). Returns one outcome for the whole step: the first part's index, the last part's
    result (or the first that failed), the timings added up, the screen after the last part."""
    ea = parsed.element
    if ea is None:
        return runner.act(parsed.action, thought=thought, extra=extra)
    info = {"element": {**ea.mark.to_json(), "action": ea.kind}}
    plan = ea.actions()
    first = runner.act(plan[0], thought=thought, extra={**extra, **info})
    parts = [first]
    if first.result.ok and ea.kind == "type":
        parts.append(runner.act(plan[1], thought=thought, extra={**info, "part_of": first.index}))
    elif first.result.ok and ea.kind == "select":
        parts += _choose(runner, ea, thought, {**info, "part_of": first.index})
    return _whole(parts)


def _norm(s: str | None) -> str:
    return clean_text(s).casefold()


def _option(model: ScreenModel | None, option: str, exclude: str) -> Element | None:
    """The opened list's element for ``option``: its name equal (case and spaces aside), else the one
    element whose name starts with it."""
    if model is None:
        return None
    want = _norm(option)
    opts = [e for e in candidates(model) if e.role in _OPTION_ROLES and e.id != exclude]
    exact = [e for e in opts if _norm(e.name) == want]
    if exact:
        return exact[0]
    start = [e for e in opts if want and _norm(e.name).startswith(want)]
    return start[0] if len(start) == 1 else None


def _choose(runner: StepRunner, ea: ElementAction, thought: str | None, info: dict) -> list[StepOutcome]:
    """After the click that opened the drop-down: pick the option, then check what it shows."""
    option = ea.text or ""
    hit = _option(_safe_elements(runner), option, ea.mark.element_id)
    parts: list[StepOutcome] = []
    if hit is not None:
        parts.append(runner.act(Click(*hit.center, target=hit.label()), thought=thought, extra=info))
    else:
        for action in (TypeText(option), KeyPress("enter")):
            parts.append(runner.act(action, thought=thought, extra=info))
            if not parts[-1].result.ok:
                return parts
    if not parts[-1].result.ok:
        return parts
    now = _safe_elements(runner)
    el = now.by_id(ea.mark.element_id) if now is not None else None
    if el is not None and el.value is not None and _norm(el.value) != _norm(option):
        error = (f"after choosing {option!r}, {ea.mark.label()} shows {el.value!r}: the option may be named "
                 "differently; open the list and click the option itself")
        if runner.writer is not None:
            runner.writer.append({"ok": False, "error": error, "check": "the drop-down's value after select",
                                  **info})
        last = parts[-1]
        parts[-1] = replace(last, result=replace(last.result, ok=False, error=error))
    return parts


def _safe_elements(runner: StepRunner) -> ScreenModel | None:
    try:
        return runner.elements()
    except Exception:  # noqa: BLE001 - without a fresh model the option is typed and the value not checked
        return None


def _whole(parts: list[StepOutcome]) -> StepOutcome:
    if len(parts) == 1:
        return parts[0]
    last = next((p for p in parts if not p.result.ok), parts[-1])
    timings: dict[str, float] = {}
    for p in parts:
        for k, v in p.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    return StepOutcome(parts[0].index, last.result, timings, parts[-1].observation, parts[0].step)


__all__ = ["OBSERVE_MODES", "observe_mode", "View", "build_view", "candidates", "act", "described"]
