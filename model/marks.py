"""Screen elements as a model sees them: a compact list, numbered marks or element ids, as plain data.

``agent run --observe screenshot+elements`` and ``--observe som`` show the model the interactive
elements of the screen beside the screenshot (OSWorld's "screenshot + a11y tree" and Set-of-Mark
observations). ``model/`` may not import ``agent/``, so the element model reaches the families as
:class:`Mark` s — id, role, name, value, states, context and bounds in *screen* pixels — gathered in an
:class:`ElementList`; the agent side (``agent.observe``) builds them from its ``ScreenModel`` and
draws the marks. A family renders the list in its own coordinate units (:func:`render_table`) and
reads element references back (:func:`element_action`), and an answer that names an element becomes
an :class:`ElementAction`: plain actions at the element's centre that the safe executor performs
(a click carries the element's label as its ``target``, so the risky gate reads it too).

How the list is kept small (OSWorld caps its linearized tree in tokens too): only interactive
elements, in reading order (top to bottom, left to right); names cut to 60 characters, values to 40,
a row or group context to 60; one tab-separated line per element under a header; once the estimated
tokens reach the cap, the rest is one line "… N more elements not listed". :func:`estimate_tokens`
counts like a BPE tokenizer on English UI text (short words one token, every digit and symbol one
token); no tokenizer is loaded (none may be downloaded), so it is an estimate that errs high.

Element references: in ``som`` mode the mark numbers (``1``…``n``, as drawn on the screenshot); in
``screenshot+elements`` the element ids (8 hex digits, stable across steps while the element stays).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from actions import secrets
from actions.coords import ImageMap, Rect
from actions.errors import ActionValidationError
from actions.space import Action, Click, KeyPress, MoveTo, Scroll, TypeText
from model.family import ParseError

#: What ``agent run`` shows the model (``--observe``; ``agent.observe`` builds each).
OBSERVE_MODES = ("screenshot", "screenshot+elements", "som")
_MODE_ALIASES = {"elements": "screenshot+elements", "screenshot+a11y": "screenshot+elements", "a11y": "screenshot+elements",
                 "screenshot+a11y_tree": "screenshot+elements", "set-of-mark": "som", "set-of-marks": "som"}
#: Default cap of the element list, in estimated tokens.
DEFAULT_TOKENS = 2000
STYLES = ("ids", "marks")
#: States worth telling the model (others, like "focusable", only cost tokens).
SHOWN_STATES = ("focused", "checked", "pressed", "selected", "expanded", "disabled", "readonly", "required",
                "invalid")
#: Roles whose group (a radio group's legend, a list's label, a calendar's month) says more than their row.
_GROUPED = frozenset({"radio", "checkbox", "toggle", "option", "listitem", "menuitem", "tab"})
#: Roles named by their label: the label is the name, a context adds nothing.
_FIELDS = frozenset({"entry", "textarea", "combobox", "spinbox", "slider"})
NAME_CHARS, VALUE_CHARS, CONTEXT_CHARS = 60, 40, 60
#: What a model may do to an element (the families map their own verbs onto these).
KINDS = ("click", "double_click", "right_click", "middle_click", "hover", "type", "select", "scroll")


def observe_mode(name: str) -> str:
    """The observation mode ``name`` stands for (case-insensitive, a few aliases); ``ValueError`` lists them."""
    key = str(name).strip().lower()
    mode = key if key in OBSERVE_MODES else _MODE_ALIASES.get(key)
    if mode is None:
        raise ValueError(f"unknown observation mode {name!r}; use one of: {', '.join(OBSERVE_MODES)}")
    return mode


@dataclass(frozen=True, slots=True)
class Mark:
    """One interactive element as a prompt shows it. ``ref`` is what the model writes to name it (the
    mark number in ``som``, the element id otherwise); ``bounds`` are screen pixels."""

    ref: str
    element_id: str
    role: str
    name: str
    bounds: Rect
    value: str | None = None
    states: tuple[str, ...] = ()
    context: str | None = None

    @property
    def center(self) -> tuple[float, float]:
        b = self.bounds
        return b.left + b.width / 2, b.top + b.height / 2

    def label(self) -> str:
        """How to name it to a person and to the risky gate: ``button 'Pay €12.00'``."""
        name = self.name or (self.value or "")
        return f"{self.role} {name!r}" if name else self.role

    def to_json(self) -> dict:
        b = self.bounds
        return {"ref": self.ref, "id": self.element_id, "role": self.role, "name": self.name,
                "box": [round(b.left, 1), round(b.top, 1), round(b.width, 1), round(b.height, 1)]}


@dataclass(frozen=True)
class ElementList:
    """The elements shown to the model for one screenshot. ``total`` counts the candidates before
    the token cap; ``image_map`` maps their screen bounds onto the screenshot as sent."""

    marks: tuple[Mark, ...]
    style: str
    image_map: ImageMap
    total: int

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"element list style must be one of {', '.join(STYLES)}, got {self.style!r}")

    @property
    def omitted(self) -> int:
        return max(0, self.total - len(self.marks))

    @property
    def what(self) -> str:
        """How the model names an element: "mark number" or "element id"."""
        return "mark number" if self.style == "marks" else "element id"

    def find(self, ref: object) -> Mark | None:
        """The mark a model's reference names: ``12``, ``"12"``, ``"[12]"``, ``"#12"``, ``"cb94ed9c"``."""
        if isinstance(ref, bool) or ref is None:
            return None
        if isinstance(ref, float) and ref.is_integer():
            ref = int(ref)
        key = str(ref).strip()[:40].strip("[]()<>#'\" ").lower()
        return next((m for m in self.marks if m.ref.lower() == key), None)

    def digest(self) -> str:
        """A short hash of what the list says (for the trajectory: the same list, the same hash)."""
        h = hashlib.sha1()
        for m in self.marks:
            h.update(f"{m.ref}|{m.role}|{m.name}|{m.value}|{m.states}|{m.bounds}\n".encode("utf-8", "replace"))
        return h.hexdigest()[:12]


# --- token estimate and the cap -----------------------------------------------------------------

_TOKENS = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]|\n|\t")


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` costs a BPE tokenizer, estimated: a run of letters one token per 6 letters
    (at least one: "Select", "Passengers" 2), every digit, symbol, tab and line break one token (as
    Qwen2's tokenizer splits numbers; GLM's groups digits, so this errs high); spaces ride along."""
    n = 0
    for m in _TOKENS.finditer(text):
        s = m.group(0)
        n += max(1, math.ceil(len(s) / 6)) if s[0].isalpha() else 1
    return n


def fit(marks: Sequence[Mark], image_map: ImageMap, max_tokens: int) -> tuple[Mark, ...]:
    """The leading marks whose list lines fit ``max_tokens`` (estimated in thousandths; a family's own
    units differ by a digit at most). The header and the "more" line are counted too."""
    to_model = _thousandths(image_map)
    used = estimate_tokens(HEADER) + estimate_tokens(MORE.format(n=9999)) + 2
    out: list[Mark] = []
    for m in marks:
        cost = estimate_tokens(_line(m, to_model))
        if used + cost > max_tokens:
            break
        used += cost
        out.append(m)
    return tuple(out)


# --- rendering ----------------------------------------------------------------------------------

HEADER = "\t".join(("ref", "role", "name", "value", "state", "context", "center", "size"))
MORE = "… {n} more elements not listed (cap reached); act on them by coordinates"
ToModel = Callable[[float, float], tuple[float, float]]


def _thousandths(image_map: ImageMap) -> ToModel:
    return lambda x, y: image_map.screen_to_normalized(x, y, 1000)


def _cell(text: str | None, limit: int) -> str:
    """One table cell: masked (a typed secret never reaches the model), on one line, no tabs, cut."""
    if not text:
        return ""
    s = secrets.mask(text).replace("\r", "").replace("\n", "\\n")
    s = " ".join(s.split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


def context_of(role: str, row: str | None, group: str | None) -> str | None:
    """What tells an element apart from its twins: the row for a button in a table ("Select" in the
    11:00 row), the group for a radio or a calendar day; nothing for a field (its label is its name)."""
    if role in _FIELDS:
        return row or None
    if role in _GROUPED:
        return group or row or None
    return row or None


def _line(m: Mark, to_model: ToModel) -> str:
    b = m.bounds
    x0, y0 = to_model(b.left, b.top)
    x1, y1 = to_model(b.right, b.bottom)
    cx, cy = round((x0 + x1) / 2), round((y0 + y1) / 2)
    w, h = max(1, round(x1 - x0)), max(1, round(y1 - y0))
    states = ",".join(s for s in SHOWN_STATES if s in m.states)
    return "\t".join((m.ref, m.role, _cell(m.name, NAME_CHARS), _cell(m.value, VALUE_CHARS), states,
                      _cell(m.context, CONTEXT_CHARS), f"({cx},{cy})", f"({w},{h})"))


def render_table(elements: ElementList, to_model: ToModel | None = None) -> str:
    """The list as tab-separated lines under a header; ``to_model`` maps a screen point to the
    family's coordinate units (default: thousandths of the screenshot)."""
    conv = to_model or _thousandths(elements.image_map)
    lines = [HEADER] + [_line(m, conv) for m in elements.marks]
    if not elements.marks:
        lines.append("(no interactive elements found on this screen)")
    if elements.omitted:
        lines.append(MORE.format(n=elements.omitted))
    return "\n".join(lines)


# --- actions on elements ------------------------------------------------------------------------

@dataclass(frozen=True)
class ElementAction:
    """A model's action on a listed element. ``actions()`` are the plain actions it becomes, at the
    element's centre: a click (with the element's label as the click's ``target``); for ``type`` a
    click (a triple click with ``clear``: it selects what a field holds, so the text replaces it) then
    the text; for ``select`` a click that opens the list, after which ``agent.observe`` picks the
    option ``text`` (clicking it when the list shows it as an element, else typing it and Enter)."""

    kind: str
    mark: Mark
    text: str | None = None
    clear: bool = False
    dy: int = 0
    dx: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown element action {self.kind!r}; known: {', '.join(KINDS)}")

    def actions(self) -> tuple[Action, ...]:
        x, y = self.mark.center
        label = self.mark.label()
        if self.kind == "hover":
            return (MoveTo(x, y),)
        if self.kind == "scroll":
            return (Scroll(dy=self.dy, dx=self.dx, x=x, y=y),)
        button, clicks = {"double_click": ("left", 2), "right_click": ("right", 1),
                          "middle_click": ("middle", 1)}.get(self.kind, ("left", 1))
        if self.kind == "type" and self.clear:
            clicks = 3
        first = Click(x, y, button, clicks, target=label)
        if self.kind == "type":
            return first, TypeText(self.text or "")
        if self.kind == "select":
            return first, TypeText(self.text or ""), KeyPress("enter")
        return (first,)

    def describe(self) -> str:
        """``type 'Berlin' into combobox 'From' [3]`` (masked: typed text may hold a placeholder)."""
        what = {"type": f"type {self.text!r} into", "select": f"choose {self.text!r} in",
                "scroll": f"scroll {'up' if self.dy > 0 else 'down' if self.dy < 0 else 'sideways'} at"}
        return secrets.mask(f"{what.get(self.kind, self.kind.replace('_', ' '))} {self.mark.label()} [{self.mark.ref}]")


#: Call arguments that name a listed element (``left_click(element='cb94ed9c')``, ``mark=12``).
ELEMENT_ARGS = ("element", "element_id", "mark", "id")


def element_ref(args: dict[str, str]) -> str | None:
    """The element a call's arguments name, or None."""
    return next((args[k] for k in ELEMENT_ARGS if args.get(k, "").strip()), None)


def element_action(kind: str, ref: object, elements: ElementList | None, raw: str, *, hint: str,
                   text: str | None = None, clear: bool = False, direction: str | None = None,
                   amount: int = 5) -> ElementAction:
    """The :class:`ElementAction` a parsed answer names, or a ``ParseError`` written for the model
    (no list on this step, an unknown reference, a missing text or option)."""
    if elements is None:
        raise ParseError("This step shows no element list, so elements cannot be named: give a point on the "
                         f"screenshot instead. {hint}", raw)
    mark = elements.find(ref)
    if mark is None:
        shown = str(ref)[:30]
        sample = ", ".join(repr(m.ref) for m in elements.marks[:3]) or "none listed"
        raise ParseError(f"There is no element {shown!r} in the list: name an element by its {elements.what} "
                         f"from the list (e.g. {sample}), or give a point. {hint}", raw)
    if kind == "type" and not text:
        raise ParseError(f"Typing into an element needs non-empty text. {hint}", raw)
    if kind == "select" and not (text or "").strip():
        raise ParseError(f"Choosing in a drop-down needs the option's text. {hint}", raw)
    dy = dx = 0
    if kind == "scroll":
        d = (direction or "down").strip().lower()
        if d not in ("up", "down", "left", "right"):
            raise ParseError(f"scroll direction must be up, down, left or right, got {d[:20]!r}. {hint}", raw)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 50:
            raise ParseError(f"scroll amount must be a whole number 1-50, got {str(amount)[:20]!r}. {hint}", raw)
        dy = {"up": amount, "down": -amount}.get(d, 0)
        dx = {"right": amount, "left": -amount}.get(d, 0)
    try:
        ea = ElementAction(kind, mark, text=text if kind in ("type", "select") else None, clear=clear, dy=dy, dx=dx)
        ea.actions()  # validates the coordinates and the text
    except (ActionValidationError, ValueError) as e:
        raise ParseError(f"{kind} on element {mark.ref!r}: {e}. {hint}", raw) from None
    return ea


__all__ = ["OBSERVE_MODES", "observe_mode", "Mark", "ElementList", "ElementAction", "element_action", "element_ref", "estimate_tokens", "fit", "render_table",
           "context_of", "HEADER", "DEFAULT_TOKENS", "KINDS", "STYLES"]
