"""Replay's element side: find a recorded element on the live screen, and confirm an element is the
recorded one before anything is done to it.

``Expected`` is what a step needs on the live screen: the recorded locator
(``agent.record.locators``) with the replay's variables applied — another station name for a
suggestion, another departure for a table row's button, another day for a calendar.

``find`` answers with exactly one element or a typed error (``ElementMissing`` /
``ElementAmbiguous`` from ``agent.elements.ground``, listing candidates):

1. candidates of a compatible role (a calendar day may be a toggle in one toolkit and a button in
   another) whose name matches (whole words; OCR noise forgiven; a caption's data — "Pay €37.90" —
   may differ when only its words are asked for, see ``locators.stable_name``);
2. the row: the recorded row's whole text first (the same train), else its first cell (the departure
   after ``--var`` changed it, or a row whose other cells changed);
3. several left: the same group, the same accessibility path, the recorded ``nth`` in reading order,
   then the one nearest the recorded position relative to its window — never a coin toss between
   equals that these cannot separate.

``identity`` is the check before acting on a point found some other way (the recorded crop, OCR
text, a VLM): the element under it must not be another one. ``focus_problem`` is the check before
typing: the keyboard focus must be on the recorded field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.elements.ground import ElementAmbiguous, ElementMissing, ElementQuery, contains_words, name_score
from agent.elements.model import TEXT_INPUTS, Element, ScreenModel, reading_order
from agent.record.locators import (CONTAINERS, compatible, day_date, first_cell, month_in, month_labels, month_of,
                                   same_element, stable_name)

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def wanted_date(exp: "Expected") -> str | None:
    """The date a calendar day was asked for as YYYY-MM-DD (``--var travel_date=2027-01-13``), or None."""
    return exp.want_name if exp.loc.get("month") and _ISO.match(exp.want_name or "") else None


def wanted_month(exp: "Expected") -> tuple[int, int] | None:
    """The (year, month) a calendar must show for the day ``exp`` names, or None (not a day)."""
    if not exp.loc.get("month"):
        return None
    iso = wanted_date(exp)
    if iso is not None:
        return int(iso[:4]), int(iso[5:7])
    return month_in(exp.want_name) or month_of(exp.loc["month"])


@dataclass(frozen=True)
class Expected:
    """A recorded locator with the replay's values: ``name`` and ``row`` override the recorded ones
    (a choice changed by ``--var``: ``row`` is then a cell value, not the whole row)."""

    loc: dict
    name: str | None = None
    row: str | None = None
    changed: bool = False  # a variable changed what is looked for
    window_box: tuple | None = None  # the recorded top-level window (left, top, width, height)

    @property
    def want_name(self) -> str:
        return self.name if self.name is not None else (self.loc.get("name") or "")

    @property
    def want_row(self) -> str | None:
        return self.row if self.row is not None else self.loc.get("row")

    def query(self) -> ElementQuery:
        """The same search as an ``ElementQuery`` (for the error messages)."""
        return ElementQuery(role=self.loc.get("role"), name=self.want_name or None, row=self.want_row)

    def describe(self) -> str:
        parts = [self.loc.get("role") or "element", repr(self.want_name) if self.want_name else ""]
        if self.want_row:
            parts.append(f"in the row {self.want_row!r}")
        return " ".join(p for p in parts if p)


def _by_name(cands: list[Element], want: str) -> list[Element]:
    if not want:
        return [e for e in cands if not e.name]
    scored = [(name_score(want, e.name), e) for e in cands]
    good = [(s, e) for s, e in scored if s >= 0.8]
    if good:
        best = max(s for s, _ in good)
        return [e for s, e in good if s >= best - 0.03]
    words = stable_name(want)
    if words and words != want:  # a caption that carries data: its words alone
        return [e for e in cands if contains_words(e.name, words) and stable_name(e.name) == words]
    return []


def _by_row(cands: list[Element], exp: Expected) -> list[Element]:
    want = exp.want_row
    if not want:
        return cands
    whole = [e for e in cands if e.row and (contains_words(e.row, want) or name_score(want, e.row) >= 0.9)]
    if whole or exp.row is not None:
        return whole
    cell = first_cell(want)  # the same departure, other cells changed (a price, a column added)
    return [e for e in cands if e.row and cell and first_cell(e.row) == cell]


def _origin(model: ScreenModel, e: Element, window_of) -> tuple[float, float]:  # noqa: ANN001
    box = window_of(e) if window_of is not None else None
    if box is None:
        wins = [w for w in model if w.role == "window" and w.bounds.contains(*e.center)]
        box = (wins[0].bounds.left, wins[0].bounds.top) if wins else (0.0, 0.0)
    return box[0], box[1]


def _rel_distance(model: ScreenModel, exp: Expected, e: Element, window_of=None) -> float:  # noqa: ANN001
    """How far ``e`` is from the recorded position, both relative to their window's top left."""
    rb = exp.loc.get("bounds")
    if rb is None:
        return 0.0
    ox, oy = _origin(model, e, window_of)
    wx, wy = (exp.window_box or (0, 0))[:2]
    return abs((e.bounds.left - ox) - (rb[0] - wx)) + abs((e.bounds.top - oy) - (rb[1] - wy))


def find(model: ScreenModel, exp: Expected, window_of=None) -> Element:  # noqa: ANN001

    """The one live element ``exp`` describes (module docstring), or ``ElementMissing`` /
    ``ElementAmbiguous``. ``window_of(element)`` gives the live box of the window an element is in
    (for the last tie-break), else the model's window elements are used."""
    loc = exp.loc
    role = loc.get("role") or ""
    cands = [e for e in model if compatible(role, e.role) and e.role not in CONTAINERS]
    iso = wanted_date(exp)
    if iso is not None:  # a day by its date: its written-out name, or its number in the month shown
        shown = next((m.name for m in month_labels(model)), None)
        named = [e for e in cands if day_date(e.name, shown) == iso and (e.source == "visual" or "enabled" in e.states)]
    else:
        named = _by_name(cands, exp.want_name)
    found = _by_row(named, exp)
    if not found:
        near = sorted(cands, key=lambda e: -name_score(exp.want_name, e.name))[:5] if exp.want_name else cands[:5]
        raise ElementMissing(exp.query(), [e for e in near if e.name] or near)
    if len(found) > 1 and loc.get("group"):
        same = [e for e in found if e.group == loc["group"]]
        found = same or found
    if len(found) > 1 and loc.get("path") is not None and not exp.changed:
        same = [e for e in found if e.path is not None and list(e.path) == list(loc["path"])]
        found = same or found
    if len(found) > 1 and loc.get("nth") and not exp.changed:
        order = [e for e in reading_order(found)]
        if loc["nth"] <= len(order):
            return order[loc["nth"] - 1]
    if len(found) > 1:
        dist = {id(e): _rel_distance(model, exp, e, window_of) for e in found}
        ranked = sorted(found, key=lambda e: dist[id(e)])
        if dist[id(ranked[1])] - dist[id(ranked[0])] > 24:
            return ranked[0]
        raise ElementAmbiguous(exp.query(), ranked)
    return found[0]


def point_in(e: Element, loc: dict) -> tuple[float, float]:
    """Where to act on ``e``: the recorded point's place inside the recorded element, kept inside."""
    rx, ry = loc.get("rel") or (0.5, 0.5)
    rx, ry = min(max(rx, 0.1), 0.9), min(max(ry, 0.1), 0.9)
    b = e.bounds
    return b.left + rx * b.width, b.top + ry * b.height


def _meaningful(name: str | None) -> bool:
    return len(re.findall(r"[A-Za-z0-9]", name or "")) >= 2


def identity(model: ScreenModel, exp: Expected, x: float, y: float) -> str | None:
    """Why the element under (x, y) is not the expected one; None when it is, or when nothing there
    can be told: no element under the point (the pixels found it, nothing contradicts them), or a
    visual parse that read no real name on one side (a widget it does not know, read as "o" once and
    as a symbol the next time, says nothing about identity)."""
    e = model.at(x, y)
    if e is None or e.role in CONTAINERS:
        return None
    iso = wanted_date(exp)
    if iso is not None:
        shown = next((m.name for m in month_labels(model)), None)
        return None if day_date(e.name, shown) == iso else f"the element there is {e.label()}, not the day {iso}"
    if "visual" in (e.source, exp.loc.get("source")) and not (_meaningful(e.name) and _meaningful(exp.want_name)):
        return None
    why = same_element(exp.loc, e, name=exp.want_name, row=exp.row)
    return f"the element there is {e.label()}: {why}" if why else None


def focused(model: ScreenModel | None, tree_focus: Element | None) -> Element | None:
    """The element with keyboard focus: the tree's answer, else the visual parse's (a caret, a focus
    ring), else None."""
    if tree_focus is not None:
        return tree_focus
    return model.focused() if model is not None else None


def focus_problem(focus_loc: dict, live: Element | None, clicked: Element | None) -> str | None:
    """Why typing now would not go into the recorded field (None: it would). ``live`` is the focused
    element; ``clicked`` the element this replay clicked last (None after a key such as Tab moved the
    focus). With neither, where the text would go cannot be told, and that is a reason too."""
    e = live or clicked
    if e is None:
        return (f"the keyboard focus cannot be seen on the recorded {focus_loc.get('role')} "
                f"{focus_loc.get('name')!r} (nor on any field); nothing was typed")
    if focus_loc.get("role") == "combobox" and e.role in ("option", "listitem", "menuitem"):
        return None  # the combobox's list is open: typing picks from it, as it did while recording
    why = same_element(focus_loc, e, row=None)
    if why is None:
        return None
    if live is None and clicked is not None and clicked.role not in TEXT_INPUTS:
        return None  # what was clicked is no field; focus may have gone anywhere — nothing to compare
    return (f"the keyboard focus is on {e.label()}, not on the recorded {focus_loc.get('role')} "
            f"{focus_loc.get('name')!r} ({why}); nothing was typed")
