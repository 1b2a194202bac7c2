"""The screen element model: one picture of the screen's elements, shared by every feature.

Why one picture: fill, record, replay, the risky-action gate, secret masking and the model prompt all
need to know "which element is this" — the Email entry, the Pay button, the "Select" button in the
12:40 row. When each of them re-derives that from pixels with its own geometry, each breaks on the
first layout it has not met. So the screen is described once per screen state as a list of
``Element`` s (role, name, value, states, bounds, context), built from the accessibility tree where an
app exposes one and from a visual parse (OCR + OpenCV) where it does not (Tk, canvases, remote
desktops), and everything else asks that list.

* ``Element`` is frozen; its ``id`` is stable across snapshots of the same screen (derived from the
  window, role, name and accessibility path — or, for visual elements, the position inside the
  window), so a recording, a prompt and an inspector can all refer to it.
* ``ScreenModel`` is one snapshot: the elements in reading order, where they came from, when, and
  how long each source took. ``at(x, y)`` is the element under a point (the risky gate and the
  recorder ask it), ``focused()`` the element with keyboard focus.

Roles are a small fixed vocabulary (``ROLES``); sources map their own (AT-SPI's "push button",
"entry", "combo box", the visual detector's rectangles) onto it. States are names from ``STATES``.

This module imports nothing from fill, record, replay or the CLI; they import it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from actions.coords import Rect

#: The roles an element can have. Interactive roles first.
ROLES = (
    "button", "entry", "textarea", "checkbox", "radio", "combobox", "spinbox", "slider", "link",
    "listitem", "menuitem", "tab", "toggle", "option", "row", "cell",
    "label", "text", "heading", "image", "list", "table", "menu", "group", "dialog", "window", "other",
)
#: Roles a person can act on (click, type into, choose).
INTERACTIVE = frozenset({
    "button", "entry", "textarea", "checkbox", "radio", "combobox", "spinbox", "slider", "link",
    "listitem", "menuitem", "tab", "toggle", "option",
})
#: Roles that take typed text.
TEXT_INPUTS = frozenset({"entry", "textarea", "spinbox", "combobox"})
#: State names an element may carry.
STATES = ("focused", "checked", "selected", "enabled", "editable", "expanded", "readonly", "multiline",
          "focusable", "pressed", "indeterminate", "required", "invalid")
SOURCES = ("a11y", "visual", "both")

#: Query-level role families: ``role="field"`` means any input a person types or chooses into.
ROLE_FAMILIES: dict[str, frozenset[str]] = {
    "button": frozenset({"button", "toggle"}),  # a button that stays pressed is still a button to a person
    "field": frozenset({"entry", "textarea", "spinbox", "combobox"}),
    "input": frozenset({"entry", "textarea", "spinbox", "combobox"}),
    "text_input": frozenset({"entry", "textarea", "spinbox"}),
    "clickable": frozenset({"button", "link", "toggle", "tab", "menuitem", "listitem", "option", "checkbox",
                            "radio"}),
    "any": frozenset(ROLES),
}


def role_matches(role: str, wanted: str | None) -> bool:
    """Does an element of ``role`` satisfy a query for ``wanted`` (a role or a family)?"""
    if not wanted:
        return True
    return role in ROLE_FAMILIES.get(wanted, frozenset({wanted}))


@dataclass(frozen=True, slots=True)
class Element:
    """One thing on screen as a person reads it.

    ``bounds`` are screen coordinates (logical pixels, like every action). ``name`` is the label a
    person reads for it (a button's caption, an entry's label, wherever the label sits); ``value`` is
    what it holds (an entry's text, a combobox's choice). ``window`` is the title of its top-level
    window; ``group`` the label of its radio group or fieldset; ``row`` the text of its table/list row
    (what tells six identical "Select" buttons apart). ``path`` is the accessibility path (child
    indices from the application) when the tree gave it; ``label_bounds`` where the visual parse saw
    the label. ``attrs`` carries source-specific extras (an HTML id, a toolkit class) as pairs.
    """

    role: str
    name: str
    bounds: Rect
    value: str | None = None
    states: frozenset[str] = frozenset()
    source: str = "visual"
    window: str | None = None
    group: str | None = None
    row: str | None = None
    path: tuple[int, ...] | None = None
    label_bounds: Rect | None = None
    description: str | None = None
    attrs: tuple[tuple[str, str], ...] = ()
    id: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown element role {self.role!r}; known: {', '.join(ROLES)}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown element source {self.source!r}")
        unknown = set(self.states) - set(STATES)
        if unknown:
            raise ValueError(f"unknown element state(s) {sorted(unknown)}; known: {', '.join(STATES)}")
        if not self.id:
            object.__setattr__(self, "id", element_id(self))

    # geometry ------------------------------------------------------------------------------------
    @property
    def center(self) -> tuple[float, float]:
        b = self.bounds
        return b.left + b.width / 2, b.top + b.height / 2

    def contains(self, x: float, y: float, pad: float = 0.0) -> bool:
        b = self.bounds
        return b.left - pad <= x < b.right + pad and b.top - pad <= y < b.bottom + pad

    @property
    def area(self) -> float:
        return max(0.0, self.bounds.width) * max(0.0, self.bounds.height)

    # meaning -------------------------------------------------------------------------------------
    @property
    def interactive(self) -> bool:
        return self.role in INTERACTIVE

    def has(self, state: str) -> bool:
        return state in self.states

    @property
    def checked(self) -> bool | None:
        """True/False for a checkbox, radio or toggle; None for anything else."""
        if self.role in ("checkbox", "radio", "toggle"):
            return "checked" in self.states or "pressed" in self.states
        return None

    def attr(self, key: str) -> str | None:
        return next((v for k, v in self.attrs if k == key), None)

    def label(self) -> str:
        """How to name it to a person: ``button 'Pay €12.00'``, ``entry 'Email'``."""
        name = self.name or (self.value or "")
        return f"{self.role} {name!r}" if name else self.role

    def texts(self) -> list[str]:
        """Every text a person sees on or for this element (the risky gate reads these)."""
        return [t for t in (self.name, self.value, self.description, self.row) if t]

    def with_(self, **changes: Any) -> "Element":
        """A copy with fields changed; the id is recomputed unless given."""
        changes.setdefault("id", "")
        return replace(self, **changes)

    # JSON ----------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        b = self.bounds
        out: dict[str, Any] = {
            "id": self.id, "role": self.role, "name": self.name, "value": self.value,
            "states": sorted(self.states),
            "bounds": [round(b.left, 1), round(b.top, 1), round(b.width, 1), round(b.height, 1)],
            "source": self.source, "window": self.window, "group": self.group, "row": self.row,
        }
        if self.path is not None:
            out["path"] = list(self.path)
        if self.label_bounds is not None:
            lb = self.label_bounds
            out["label_bounds"] = [round(lb.left, 1), round(lb.top, 1), round(lb.width, 1), round(lb.height, 1)]
        if self.description:
            out["description"] = self.description
        if self.attrs:
            out["attrs"] = dict(self.attrs)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Element":
        lb = d.get("label_bounds")
        return cls(role=d["role"], name=d.get("name") or "", bounds=Rect(*d["bounds"]), value=d.get("value"),
                   states=frozenset(d.get("states") or ()), source=d.get("source", "visual"),
                   window=d.get("window"), group=d.get("group"), row=d.get("row"),
                   path=tuple(d["path"]) if d.get("path") is not None else None,
                   label_bounds=Rect(*lb) if lb else None, description=d.get("description"),
                   attrs=tuple((d.get("attrs") or {}).items()), id=d.get("id", ""))


def element_id(e: Element) -> str:
    """A short id that stays the same for the same element across snapshots of the same screen.

    From the window, role and name plus the accessibility path when there is one; otherwise the
    position quantized to 8 px (visual elements have no path; a position inside the screen is stable
    while the window does not move, which is what "the same screen" means)."""
    where = ",".join(map(str, e.path)) if e.path is not None else \
        f"{round(e.bounds.left / 8)},{round(e.bounds.top / 8)}"
    key = f"{e.window or ''}|{e.role}|{e.name}|{where}"
    return hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:8]


def iou(a: Rect, b: Rect) -> float:
    """Intersection over union of two rectangles (0 when they do not overlap)."""
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def overlap(a: Rect, b: Rect) -> float:
    """The fraction of the smaller rectangle covered by the other (1.0: one holds the other)."""
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if w <= 0 or h <= 0:
        return 0.0
    small = min(a.width * a.height, b.width * b.height)
    return (w * h) / small if small > 0 else 0.0


def distance(a: Rect, x: float, y: float) -> float:
    """Distance from a point to a rectangle (0 inside)."""
    dx = max(a.left - x, 0.0, x - a.right)
    dy = max(a.top - y, 0.0, y - a.bottom)
    return (dx * dx + dy * dy) ** 0.5


def reading_order(elements: Iterable[Element]) -> list[Element]:
    """Top to bottom, then left to right, with elements whose vertical centres are within half a
    line of each other counted as one line (a label and its entry, a row of buttons)."""
    els = sorted(elements, key=lambda e: (e.bounds.top + e.bounds.height / 2, e.bounds.left))
    lines: list[list[Element]] = []
    for e in els:
        cy = e.bounds.top + e.bounds.height / 2
        if lines:
            last = lines[-1]
            ref = sum(o.bounds.top + o.bounds.height / 2 for o in last) / len(last)
            tol = max(6.0, min(min(o.bounds.height for o in last), e.bounds.height) / 2)
            if abs(cy - ref) <= tol:
                last.append(e)
                continue
        lines.append([e])
    return [e for line in lines for e in sorted(line, key=lambda o: o.bounds.left)]


_WS = re.compile(r"\s+")


def clean_text(s: str | None) -> str:
    """A name as stored: whitespace collapsed, surrounding spaces and a trailing colon removed."""
    if not s:
        return ""
    s = _WS.sub(" ", s).strip()
    return s[:-1].rstrip() if s.endswith(":") else s


@dataclass(frozen=True)
class ScreenModel:
    """One snapshot of the screen's elements.

    ``area`` is the screen rectangle described; ``sources`` the sources that contributed
    (``a11y``, ``visual``); ``timings`` seconds per source and for the merge; ``notes`` what a
    person should know (a source that failed, an application that exposes no tree).
    """

    elements: tuple[Element, ...]
    area: Rect
    taken_at: float = 0.0
    sources: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.elements)

    def __iter__(self):
        return iter(self.elements)

    def by_id(self, eid: str) -> Element | None:
        return next((e for e in self.elements if e.id == eid), None)

    def interactive(self) -> list[Element]:
        return [e for e in self.elements if e.interactive]

    def focused(self) -> Element | None:
        hits = [e for e in self.elements if "focused" in e.states]
        return min(hits, key=lambda e: e.area) if hits else None

    def at(self, x: float, y: float, *, pad: float = 0.0, interactive_first: bool = True) -> Element | None:
        """The element under screen point (x, y): the smallest interactive one containing it, else the
        smallest of any role (a label, a heading), else None."""
        hits = [e for e in self.elements if e.contains(x, y, pad) and e.area > 0]
        if not hits:
            return None
        if interactive_first:
            inter = [e for e in hits if e.interactive]
            if inter:
                return min(inter, key=lambda e: e.area)
        return min(hits, key=lambda e: e.area)

    def near(self, x: float, y: float, radius: float) -> list[Element]:
        """Elements within ``radius`` px of the point, nearest first."""
        out = [(distance(e.bounds, x, y), e) for e in self.elements]
        return [e for d, e in sorted(out, key=lambda p: (p[0], p[1].area)) if d <= radius]

    def within(self, rect: Rect) -> list[Element]:
        """Elements whose centre lies inside ``rect``."""
        return [e for e in self.elements if rect.contains(*e.center)]

    def windows(self) -> list[str]:
        return list(dict.fromkeys(e.window for e in self.elements if e.window))

    def to_json(self) -> dict[str, Any]:
        a = self.area
        return {"area": [a.left, a.top, a.width, a.height], "sources": list(self.sources),
                "timings": {k: round(v, 4) for k, v in self.timings.items()}, "notes": list(self.notes),
                "elements": [e.to_json() for e in self.elements]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ScreenModel":
        return cls(tuple(Element.from_json(e) for e in d.get("elements", [])), Rect(*d["area"]),
                   sources=tuple(d.get("sources", ())), timings=dict(d.get("timings", {})),
                   notes=tuple(d.get("notes", ())))


def sort_elements(elements: Sequence[Element]) -> tuple[Element, ...]:
    """Reading order with duplicate ids made unique (two identical elements at one place)."""
    seen: dict[str, int] = {}
    out = []
    for e in reading_order(elements):
        n = seen.get(e.id, 0)
        seen[e.id] = n + 1
        out.append(e if n == 0 else replace(e, id=f"{e.id}.{n}"))
    return tuple(out)
