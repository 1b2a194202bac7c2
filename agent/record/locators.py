"""What a recorded step keeps about its target and its effect, read from the screen element model.

A crop finds a target again only while it *looks* the same; a macro recorder's coordinates only while
it sits in the same place. What stays true when a window is resized, a layout reflows or the rows of a
table come in another order is *which element* it was: a button named "Select" in the row that starts
"14:00", the entry labelled "Email", the day "Tuesday 15 December 2026" of a calendar showing
"December 2026". So each pointed step keeps a **locator** (``element_locator``): the element's role,
name, row, group, window, accessibility path, its bounds and where the point sat inside them, and —
when the target lives in a calendar — the month the calendar showed. Keyboard steps keep the element
that had focus (the field typed into), so replay can refuse to type anywhere else.

Each step also keeps its **effect** (``step_effect``): what changed between the screen before it and
the screen the person saw before acting again — a new page heading, a month label, which kinds of
elements appeared or vanished (a suggestion list, a dialog). Replay waits for that change, and repairs
a mismatch when the recording says how (``agent.record.repair``).

**Choices** (a suggestion picked from a list, a calendar day, a table row's button, a radio option,
a check box) are named like typed values, from the element's label (``choice_name``): the field the
suggestion completes (``from``), the calendar's title (``travel_date``), the table column of the row's
first cell (``departure``), the radio group (``seat``). Pure functions over ``ScreenModel`` s; no I/O.
"""

from __future__ import annotations

import datetime as dt
import re

from agent.elements.ground import contains_words, name_score
from agent.elements.model import TEXT_INPUTS, Element, ScreenModel, distance, overlap, reading_order

#: Role groups replay treats as one (a toolkit may call a day of a calendar a toggle or a button).
COMPATIBLE = (frozenset(TEXT_INPUTS), frozenset({"button", "toggle", "link", "menuitem", "tab"}),
              frozenset({"listitem", "option", "menuitem"}), frozenset({"label", "text", "heading", "cell"}))
#: Elements that hold others; a click "on" one of them names no target.
CONTAINERS = frozenset({"window", "group", "dialog", "table", "list", "menu", "other", "image"})
#: Roles whose click is a choice among alternatives (a variable for export and ``--var``).
CHOICE_ROLES = frozenset({"listitem", "option", "radio", "checkbox"})
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_MONTH_RE = re.compile(r"^\W*(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.?,?\s+(\d{4})\W*$", re.I)
_DATA = re.compile(r"\d|[€$£¥₹]")
_DAY = re.compile(r"(?<!\d)(0?[1-9]|[12]\d|3[01])(?!\d)")
_VERBS = re.compile(r"^(i\s+)?(choose|select|pick|enter|set|open|add|use|accept|agree\s+to)\s+(a|an|the|your|my)?\s*",
                    re.I)
_MONTH_WORD = re.compile(r"\b(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\b", re.I)
_MONTH_IN = re.compile(r"\b(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.?,?\s+(\d{4})\b", re.I)
MAX_TEXT = 120


def month_of(text: str | None) -> tuple[int, int] | None:
    """``"December 2026"`` → (2026, 12); None unless the whole text is a month and a year."""
    m = _MONTH_RE.match((text or "").strip())
    if not m:
        return None
    return int(m.group(2)), next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(m.group(1).lower()))


def month_in(text: str | None) -> tuple[int, int] | None:
    """The first month and year named anywhere in a text ("Tuesday 15 December 2026" → (2026, 12))."""
    m = _MONTH_IN.search(text or "")
    return month_of(m.group(0)) if m else None


def day_date(name: str | None, month: str | None = None) -> str | None:
    """The ISO date a calendar day stands for: from its name when it is written out ("Tuesday 15
    December 2026", "December 15, 2026"), else its number in the month it was shown in."""
    text = name or ""
    mname = _MONTH_WORD.search(text)
    year = re.search(r"\b(\d{4})\b", text)
    if mname and year:
        ym = (int(year.group(1)), next(i for i, n in enumerate(_MONTHS, 1) if n.startswith(mname.group(1).lower())))
        text = text[:mname.start()] + " " + text[mname.end():]
        text = text.replace(year.group(1), " ")
    else:
        ym = month_of(month)
    day = _DAY.search(text)
    if ym is None or day is None:
        return None
    try:
        return dt.date(ym[0], ym[1], int(day.group(1))).isoformat()
    except ValueError:
        return None


def month_labels(model: ScreenModel) -> list[Element]:
    """Elements whose whole text is a month and a year (a calendar's title), in reading order."""
    return [e for e in model if e.role not in CONTAINERS and month_of(e.name)]


def month_context(model: ScreenModel, e: Element) -> str | None:
    """The month a calendar showed around ``e`` when ``e`` is a day of it (its name holds a day's
    number): its group when that is a month (a grid labelled by the month), else the nearest month
    label above it within 400 px in the same window."""
    if not _DAY.search(e.name or "") or e.role in TEXT_INPUTS:
        return None
    if month_of(e.group):
        return e.group
    cx, cy = e.center
    near = [(distance(m.bounds, cx, cy), m) for m in month_labels(model)
            if m.bounds.top <= e.bounds.top and (m.window == e.window or not m.window or not e.window)]
    near = [p for p in near if p[0] <= 400]
    return min(near, key=lambda p: p[0])[1].name if near else None


def compatible(a: str, b: str) -> bool:
    """Roles a recorded element and a live one may differ by and still be the same control."""
    return a == b or any(a in g and b in g for g in COMPATIBLE)


def _short(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


def target_at(model: ScreenModel, x: float, y: float) -> Element | None:
    """The element a person acted on at (x, y): the smallest interactive one there, else a text-like
    one; None when only a container (a window, a pane) is under the point."""
    e = model.at(x, y)
    if e is None or (e.role in CONTAINERS and not e.interactive):
        return None
    return e


def first_cell(row: str | None) -> str | None:
    """The first cell of a row's text (accessibility rows join cells with " | ", visual rows with
    spaces: then the first word)."""
    if not row:
        return None
    cells = [c.strip() for c in row.split(" | ")] if " | " in row else row.split()
    return next((c for c in cells if c), None)


def column_header(model: ScreenModel, row_el: Element) -> str | None:
    """The header above a row's first cell (what the column is called: "Departure")."""
    cell = first_cell(row_el.row)
    if not cell:
        return None
    cells = [e for e in model if e.row == row_el.row and e.name and name_score(cell, e.name) >= 0.95
             and e.role in ("cell", "text", "label")]
    if not cells:
        return None
    c = min(cells, key=lambda e: e.bounds.left)
    above = [e for e in model if e.name and e.bounds.bottom <= c.bounds.top + 2 and e.role in ("cell", "text", "label", "heading")
             and e.bounds.left < c.bounds.right and e.bounds.right > c.bounds.left and not _DATA.search(e.name)
             and e.row != row_el.row]
    return min(above, key=lambda e: c.bounds.top - e.bounds.bottom).name if above else None


def element_locator(model: ScreenModel, e: Element, point: tuple[float, float]) -> dict:
    """The locator of ``e`` (see the module docstring). ``nth`` is its place in reading order among
    the elements that look the same (same role, name and row), given only when there are several."""
    b = e.bounds
    out: dict = {"role": e.role, "name": _short(e.name), "source": e.source,
                 "bounds": [round(b.left, 1), round(b.top, 1), round(b.width, 1), round(b.height, 1)],
                 "rel": [round((point[0] - b.left) / b.width, 3) if b.width else 0.5,
                         round((point[1] - b.top) / b.height, 3) if b.height else 0.5]}
    if e.value and (e.role not in TEXT_INPUTS or picks(e)):  # a field's text may be a secret typed a moment ago
        out["value"] = _short(e.value)
    states = [s for s in ("checked", "selected", "pressed", "expanded", "editable") if s in e.states]
    if states:
        out["states"] = states
    for k in ("row", "group", "window"):
        if getattr(e, k):
            out[k] = _short(getattr(e, k))
    if e.path is not None:
        out["path"] = list(e.path)
    same = [o for o in reading_order(model) if o.role == e.role and o.name == e.name and o.row == e.row]
    if len(same) > 1:
        out["nth"] = next((i for i, o in enumerate(same, 1) if o.id == e.id), None)
    month = month_context(model, e)
    if month:
        out["month"] = month
    if e.row and e.role not in ("row", "cell"):
        header = column_header(model, e)
        if header:
            out["column"] = header
    return out


def picks(e: Element) -> bool:
    """A drop-down that is not typed into (a native select): what is typed picks one of its options."""
    return e.role == "combobox" and "editable" not in e.states


def same_in(model: ScreenModel, loc: dict) -> Element | None:
    """The element of ``model`` that is the one ``loc`` recorded in a neighbouring screen state (the
    same accessibility path, else the same role and name)."""
    if loc.get("path") is not None:
        hit = next((e for e in model if e.path is not None and list(e.path) == list(loc["path"])), None)
        if hit is not None:
            return hit
    same = [e for e in model if e.role == loc.get("role") and e.name == loc.get("name")]
    return same[0] if len(same) == 1 else None


def focused_locator(model: ScreenModel) -> dict | None:
    """The locator of the element with keyboard focus (a text input by preference), or None."""
    hits = [e for e in model if "focused" in e.states and e.role not in CONTAINERS]
    if not hits:
        return None
    e = min(hits, key=lambda o: (o.role not in TEXT_INPUTS, o.area))
    return element_locator(model, e, e.center)


# effects ---------------------------------------------------------------------------------------
def _keys(model: ScreenModel) -> dict[tuple[str, str], Element]:
    return {(e.role, e.name): e for e in model if e.name and e.role not in ("window", "group")}


def step_effect(before: ScreenModel, after: ScreenModel) -> dict:
    """What changed between two screens, as replay can check it: ``heading`` (a heading now shown
    that was not), ``month`` (the month a calendar now shows, when it is new or another), ``appeared``
    / ``vanished`` (a few "role: name" for the report), and ``roles_appeared`` / ``roles_vanished``
    (the roles of what changed: a list of suggestions, a dialog) — data-free, so they hold after
    ``--var`` changed a value."""
    kb, ka = _keys(before), _keys(after)
    new = [ka[k] for k in ka if k not in kb]
    gone = [kb[k] for k in kb if k not in ka]
    out: dict = {}
    def was_there(h: Element) -> bool:  # the same text in the same place, read as another role before
        return any(e.name == h.name and overlap(e.bounds, h.bounds) > 0.5 for e in before)

    heads = [e for e in reading_order(new) if e.role == "heading" and not month_of(e.name) and not was_there(e)]
    if heads:
        out["heading"] = _short(heads[0].name)
    mb = {e.name for e in month_labels(before)}
    ma = [e.name for e in month_labels(after)]
    if ma and ma[0] not in mb:
        out["month"] = ma[0]
    salient = ("heading", "dialog", "listitem", "option", "button", "toggle", "label", "text", "entry", "combobox",
               "checkbox", "radio", "row", "menuitem", "link", "tab")
    rank = {r: i for i, r in enumerate(salient)}

    def sample(els: list[Element]) -> list[str]:
        els = sorted((e for e in els if e.role in rank), key=lambda e: rank[e.role])
        return [f"{e.role}: {_short(e.name)}" for e in els[:10]]

    if new:
        out["appeared"] = sample(new)
    if gone:
        out["vanished"] = sample(gone)
    countable = ("listitem", "option", "dialog", "menuitem", "row", "heading")
    roles_new = sorted({e.role for e in new if e.role in countable})
    roles_gone = sorted({e.role for e in gone if e.role in countable} - set(roles_new))
    if roles_new:
        out["roles_appeared"] = roles_new
    if roles_gone:
        out["roles_vanished"] = roles_gone
    return out


# names for variables ---------------------------------------------------------------------------
def var_name(label: str | None, default: str = "text") -> str:
    """A readable variable name from a label: "Full name:" → ``full_name``, "E-mail" → ``e_mail``;
    ``default`` when nothing usable is left (a label of digits or symbols)."""
    words = re.sub(r"[^a-z0-9]+", "_", (label or "").lower()).strip("_")
    words = re.sub(r"_+", "_", words)
    if not words or words[0].isdigit() or len(words) > 40:
        return default if not words or words[0].isdigit() else words[:40].rstrip("_")
    return words


def stable_name(name: str | None) -> str:
    """A name less its data: words with digits or a currency sign dropped ("Pay €37.90" → "Pay"), so
    a button whose caption carries a price or a count is found again when the data changed."""
    return " ".join(w for w in (name or "").split() if not _DATA.search(w)).strip(" :·-|")


def choice_value(loc: dict) -> str | None:
    """The value a choice stands for: the row's first cell for a button in a table row, else the
    element's name (the suggestion, the day, the radio option)."""
    if loc.get("row") and loc.get("role") not in CHOICE_ROLES and not loc.get("month"):
        return first_cell(loc["row"])
    return loc.get("name") or None


def choice_name(loc: dict, typed_field: str | None = None) -> str | None:
    """The variable name of a choice, or None when the click is not one. ``typed_field`` is the field
    just typed into (a suggestion completes it, so it gets that field's name)."""
    role = loc.get("role")
    if loc.get("month"):  # a day of a calendar: named by the calendar ("Choose a travel date")
        title = loc.get("window") if loc.get("window") and not month_of(loc.get("window")) else None
        return var_name(_VERBS.sub("", title or ""), "date") if title else "date"
    if role in ("listitem", "option"):
        if typed_field:
            return var_name(typed_field)
        return var_name(_VERBS.sub("", loc.get("group") or ""), "option")
    if role == "radio":
        return var_name(loc.get("group") or "", "option")
    if role == "checkbox":
        return var_name(_VERBS.sub("", loc.get("name") or ""), "check")
    if loc.get("row") and role in ("button", "toggle", "link"):
        return var_name(loc.get("column") or "", "row")
    return None


def same_element(loc: dict, e: Element, *, name: str | None = None, row: str | None = None) -> str | None:
    """Why the live element ``e`` is not the recorded one (None when it is): its role must be
    compatible, its name must match (``name`` overrides the recorded one, e.g. after ``--var``), and
    when the recording names a row, the row must contain it (``row``: a cell value to look for)."""
    want = loc.get("name") if name is None else name
    if not compatible(loc.get("role", ""), e.role):
        return f"it is a {e.role}, the recording acted on a {loc.get('role')}"
    if want and name_score(want, e.name) < 0.8 and not (stable_name(want) and stable_name(want) != want
                                                        and contains_words(e.name, stable_name(want))):
        return f"it is named {e.name!r}, the recording's is named {want!r}"
    want_row = loc.get("row") if row is None else row
    if want_row and not (e.row and (contains_words(e.row, want_row) or name_score(want_row, e.row) >= 0.9)):
        return f"its row is {e.row!r}, the recording's row is {want_row!r}"
    return None
