"""``agent export``: turn a recording into an ``agent fill`` script a person can read and edit.

A recording replays one session exactly; a fill script runs the same steps for many data rows and
names its targets by what they *are*, which survives redesigns that break a pixel crop. Steps with an
element locator (``agent.record.locators``) become element targets — ``{name: "Email", role: entry}``,
``{name: Select, role: button, row: "{departure}"}`` — with a caption's data left out ("Pay €88.80"
→ ``Pay``); choices become the fill step that says what was chosen: a suggestion after typing
(``type`` the whole value, then ``click: {name: "{from}", role: listitem}``), a calendar day
(``date: {field, value}`` when the fill format has it — the click that opened the calendar and the
person's paging folded in —, else a ``click`` on the day's accessible name), an option typed into a
native drop-down (``select: {field, option}``), a table row's button (``row: "{departure}"``), a radio
option (``choose: {group, option}``), a check box (``check: {label, value}``). Steps without a locator
(older recordings) use text anchors (OCR text of a clicked button, the label left of a clicked field)
and fall back to the recorded crop as ``image:`` (a path relative to the script, as ``agent fill``
resolves it).

A click that only puts the cursor in a field is folded into the ``type`` that follows (``type: {into:
...}`` clicks the field itself). Without locators, a click that opens a list and a click on an item of
it become one ``select: {field, option}``: the second click's spot changed after the first one (the
list appeared) and changed back after it (the list closed); the option is the text of the clicked row.

Typed values and choices become ``{var}`` placeholders with ``vars=True``, named as the recording
named them (from the element's label: ``full_name``, ``from``, ``seat``), with a CSV header and the
recorded values as its first row; secrets stay ``{{secret:NAME}}``. What a fill script cannot express
(a drag) is kept as a comment so nothing is dropped silently. The format is the one
``agent.fill.script`` validates; the export is checked against it when that module is importable.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import yaml

from actions import secrets
from agent.record.locators import TEXT_INPUTS, stable_name
from agent.trajectory import Trajectory, read_trajectory

#: Roles written as a family a fill script's element query accepts (a day may be a toggle).
_EXPORT_ROLE = {"toggle": "button", "option": "listitem"}


def element_target(loc: dict, name: str | None = None, row: str | None = None) -> dict | str | None:
    """A fill target for a recorded element: its name (``name`` overrides it, e.g. a ``{var}``) less
    any data in a button's caption, its role, and the row's variable; None without a usable name."""
    role = _EXPORT_ROLE.get(loc.get("role"), loc.get("role"))
    if name is None:
        name = loc.get("name") or ""
        if role in ("button", "link", "tab", "menuitem") and stable_name(name):
            name = stable_name(name)
    if not name and not row:
        return None
    out: dict = {"name": name} if name else {}
    out["role"] = role
    if row:
        out["row"] = row
    if loc.get("nth") and not row and name == loc.get("name"):
        out["nth"] = loc["nth"]
    return out


def _target(step: dict, script_dir: Path, folder: Path) -> dict | str | None:
    anchor = step.get("anchor") or {}
    if anchor.get("element") and (t := element_target(anchor["element"])) is not None:
        return t
    if anchor.get("text"):
        return anchor["text"]
    if anchor.get("crop"):
        return {"image": os.path.relpath(folder / anchor["crop"], script_dir)}
    return None


def _field(click: dict | None, script_dir: Path, folder: Path) -> dict | str | None:
    """What to type into: the label left of the clicked field, else the clicked target itself."""
    if click is None:
        return None
    anchor = click.get("anchor") or {}
    if (anchor.get("element") or {}).get("role") in TEXT_INPUTS and anchor["element"].get("name"):
        return element_target(anchor["element"])
    if anchor.get("label"):
        return anchor["label"]
    return _target(click, script_dir, folder)


def _name(label: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return base if base and not base[0].isdigit() else "option"


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}" if base[-1:].isalpha() else f"{base}_{n}"
    taken.add(name)
    return name


def _row_text(anchor: dict) -> str | None:
    """The text of the clicked row: the OCR text when the point is on it, else the text left of it."""
    text, off, size = anchor.get("text"), anchor.get("text_offset"), anchor.get("text_size")
    if text and off and size and abs(off[0]) <= size[0] / 2 + 3 and abs(off[1]) <= size[1] / 2 + 3:
        return text
    return anchor.get("label")


def _patch(step: dict | None, folder: Path, point: tuple[float, float], half: tuple[float, float] = (40, 8),
           box: tuple[float, float, float, float] | None = None):
    """The step's "before" screenshot around the screen point (or over a screen ``box``: left, top,
    right, bottom) as a grey array; None without a screenshot."""
    if not step or not step.get("screenshot"):
        return None
    import numpy as np
    from PIL import Image

    left, top, w, h = step.get("screen_area") or (0, 0, *step.get("image_size", (0, 0)))
    try:
        img = Image.open(folder / step["screenshot"]).convert("L")
    except OSError:
        return None
    sx, sy = img.width / w if w else 1.0, img.height / h if h else 1.0
    if box is None:
        box = (point[0] - half[0], point[1] - half[1], point[0] + half[0], point[1] + half[1])
    px = (int(max(0, (box[0] - left) * sx)), int(max(0, (box[1] - top) * sy)),
          int(min(img.width, (box[2] - left) * sx)), int(min(img.height, (box[3] - top) * sy)))
    if px[2] - px[0] < 4 or px[3] - px[1] < 4:
        return None
    return np.asarray(img.crop(px), dtype=np.int16)


def _differ(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and float(abs(a - b).mean()) > 4


def _dropdown(first: dict, second: dict, after: dict | None, folder: Path) -> str | None:
    """The option chosen when ``first`` opened a list and ``second`` clicked an item of it, else None."""
    a1, a2 = first.get("action") or {}, second.get("action") or {}
    an1, an2 = first.get("anchor") or {}, second.get("anchor") or {}
    e1, e2 = an1.get("element"), an2.get("element")
    if (e1 and e1.get("role") != "combobox") or (e2 and e2.get("role") not in ("option", "listitem", "menuitem", "text")):
        return None  # the elements say what was clicked: no list opened and chosen from
    if a1.get("type") != "click" or a2.get("type") != "click" or a1.get("clicks", 1) != 1 or a2.get("clicks", 1) != 1:
        return None
    if not an1.get("label") or None in (a1.get("x"), a1.get("y"), a2.get("x"), a2.get("y")):
        return None
    dx, dy = a2["x"] - a1["x"], a2["y"] - a1["y"]
    if not (8 <= abs(dy) <= 600 and abs(dx) <= 250):
        return None
    option = _row_text(an2)
    if not option:
        return None
    point = (a2["x"], a2["y"])
    was, opened = _patch(first, folder, point), _patch(second, folder, point)
    if not _differ(was, opened):
        return None  # nothing appeared where the second click went: two ordinary clicks
    # A list covers the whole band between the field and the chosen row; a button that merely
    # changed its look (enabled by a tick box, say) leaves the band as it was.
    lo, hi = sorted((a1["y"], a2["y"]))
    if hi - lo >= 36:  # the rows strictly between the two clicks (not the clicked widgets themselves)
        band = (min(a1["x"], a2["x"]) - 20, lo + 14, max(a1["x"], a2["x"]) + 20, hi - 16)
        b0, b1 = _patch(first, folder, point, box=band), _patch(second, folder, point, box=band)
        if b0 is None or b1 is None or b0.shape != b1.shape or float((abs(b0 - b1) > 8).mean()) < 0.5:
            return None
    if after is not None:
        closed = _patch(after, folder, point)
        if closed is not None and _differ(closed, was):
            return None  # what appeared stayed: not a list that closed on the choice
    return option


def _dropdown_field(s: dict, last_click: dict | None) -> dict | None:
    """The target of a drop-down that a typing step picked from (its focus), or None."""
    focus = s.get("focus") or ((last_click or {}).get("anchor") or {}).get("element") or {}
    if focus.get("role") == "combobox" and "editable" not in (focus.get("states") or ()) and focus.get("name"):
        return element_target(focus)
    return None


def _picked(s: dict, nxt: dict | None) -> tuple[str, str] | None:
    """(option, variable) a typing step picked in a drop-down — read after it, or after the Enter
    that closed the list — or None."""
    for step in (s, nxt or {}):
        ch = step.get("choice") or {}
        if ch.get("value") and ch.get("var") == s.get("var"):
            return ch["value"], ch["var"]
    return None


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _fill_has(action: str) -> bool:
    """Does the installed fill script format know this step (``date`` came with the element runner)?"""
    try:
        from agent.fill.script import ACTIONS
    except ImportError:
        return False
    return action in ACTIONS


def _fold_opener(steps: list, origin: list, date: dict) -> None:
    """A ``date`` step clicks its picker's field itself and pages the months: the click that opened
    the calendar (its effect showed a month) and the person's own paging become its ``field``."""
    while origin and _is_pager(origin[-1]):
        steps.pop()
        origin.pop()
    if origin and (origin[-1].get("effect") or {}).get("month") and "click" in steps[-1]:
        date["field"] = steps.pop()["click"]
        origin.pop()


def _is_pager(s: dict) -> bool:
    from agent.record.repair import NEXT, PREV

    name = ((s.get("anchor") or {}).get("element") or {}).get("name") or ""
    return (s.get("action") or {}).get("type") == "click" and bool(NEXT.search(name) or PREV.search(name))


def _choice_step(s: dict, use_vars: bool, variables: dict[str, str]) -> dict | None:
    """The fill step for a click that chose (``choice: {var, value}``), or None."""
    ch, loc = s.get("choice") or {}, (s.get("anchor") or {}).get("element") or {}
    if not ch.get("value") or not loc:
        return None
    value = ch["value"]
    if use_vars:
        variables.setdefault(ch["var"], value)
        value = "{%s}" % ch["var"]
    role = loc.get("role")
    if loc.get("month") and _ISO.match(ch["value"]) and _fill_has("date"):
        return {"date": {"value": value}}
    if role == "radio" and loc.get("group"):
        return {"choose": {"group": loc["group"], "option": value}}
    if role == "checkbox" and loc.get("name"):
        return {"check": {"label": loc["name"], "value": value}}
    if loc.get("row") and role not in ("listitem", "option", "radio") and not loc.get("month"):
        return {"click": element_target(loc, row=value)}
    return {"click": element_target(loc, name=value)}


def build(t: Trajectory, script_dir: Path, *, use_vars: bool = False) -> tuple[list, list[str], dict[str, str]]:
    """(steps, notes, variables: name -> recorded value). ``notes`` become comments for what needs a
    person's edit."""
    folder = t.folder.resolve()
    steps: list = []
    notes: list[str] = []
    variables: dict[str, str] = {}
    taken = {s["var"] for s in t.steps if s.get("var")}
    last_click: dict | None = None
    origin: list[dict] = []  # the recorded step each exported one came from

    def emit(fill_step: dict) -> None:
        steps.append(fill_step)
        origin.append(s)

    todo = [s for s in t.steps if (s.get("action") or {}).get("type") not in ("done", "fail", None)]
    i = 0
    while i < len(todo):
        s = todo[i]
        nxt = todo[i + 1] if i + 1 < len(todo) else None
        i += 1
        a = s.get("action") or {}
        kind = a.get("type")
        person = (s.get("timings") or {}).get("person_s") or 0
        target = _target(s, script_dir, folder)
        if person > 3 and isinstance(target, str) and kind in ("click", "scroll"):
            emit({"wait_for": target})  # the person waited for something to appear
        if kind == "click" and (chosen := _choice_step(s, use_vars, variables)) is not None:
            if "date" in chosen:
                _fold_opener(steps, origin, chosen["date"])
            emit(chosen)
            last_click = None
            continue
        if kind == "click":
            option = _dropdown(s, nxt, todo[i + 1] if i + 1 < len(todo) else None, folder) if nxt else None
            if option is not None:
                field = s["anchor"]["label"]
                if use_vars:
                    name = _unique(_name(field), taken)
                    variables[name] = option
                    option = "{%s}" % name
                emit({"select": {"field": field, "option": option}})
                last_click = None
                i += 1
                continue
            if target is None and not (nxt and (nxt.get("action") or {}).get("type") == "type"):
                notes.append(f"step {s.get('index')}: a click at ({a.get('x')}, {a.get('y')}) has no anchor; skipped")
                continue
            last_click = s
            if a.get("clicks", 1) == 1 and nxt and (nxt.get("action") or {}).get("type") == "type":
                continue  # it only put the cursor in the field: `type: {into: ...}` clicks it itself
            key = {1: "click", 2: "double_click"}.get(a.get("clicks", 1), "double_click")
            emit({key: target})
        elif kind == "type" and _dropdown_field(s, last_click) and (picked := _picked(s, nxt)) is not None:
            value, var = picked  # typing picked an option of a drop-down (a native select)
            if use_vars:
                variables[var] = value
                value = "{%s}" % var
            emit({"select": {"field": _dropdown_field(s, last_click), "option": value}})
            last_click = None
            if nxt and (nxt.get("action") or {}).get("type") == "press" and nxt["action"].get("key") == "enter":
                i += 1  # the Enter that closed the list: fill's select closes it itself
        elif kind == "type":
            text = a.get("text", "")
            chosen = (nxt or {}).get("choice") or {}
            if s.get("var") and chosen.get("var") == s["var"] and chosen.get("value"):
                text = chosen["value"]  # the suggestion picked next: type all of it, then pick it
            if use_vars and not secrets.has_secret(text) and s.get("var"):
                variables[s["var"]] = text
                text = "{%s}" % s["var"]
            into = _field(last_click, script_dir, folder)
            focus = s.get("focus") or {}
            if into is None and focus.get("role") in TEXT_INPUTS and focus.get("name"):
                into = element_target(focus)
            if into is None and focus:
                emit({"type": {"text": text}})  # into whatever has the focus (after Tab, say)
            else:
                if into is None:
                    into = {"description": "the field that has keyboard focus"}
                    notes.append(f"step {s.get('index')}: typing without a click before it (e.g. after Tab); "
                                 "name the field in 'into'")
                emit({"type": {"into": into, "text": text}})
            last_click = None
        elif kind == "press":
            emit({"press": a["key"] if a.get("presses", 1) == 1 else {"key": a["key"], "presses": a["presses"]}})
            last_click = None
        elif kind == "hotkey":
            emit({"hotkey": "+".join(a.get("keys") or [])})
        elif kind == "scroll":
            sc = {k: a[k] for k in ("dy", "dx") if a.get(k)}
            if target is not None:
                sc["at"] = target
            emit({"scroll": sc})
        elif kind == "wait":
            emit({"wait": a.get("seconds", 1)})
        else:
            notes.append(f"step {s.get('index')}: {kind} {({k: v for k, v in a.items() if k != 'type'})} "
                         "cannot be written as a fill step; do it by hand or replay the recording")
    return steps, notes, variables


def export_yaml(folder: str | Path, out: str | Path | None = None, *,
                use_vars: bool = False) -> tuple[str, list[str], dict[str, str]]:
    """The fill script text (validated when ``agent.fill.script`` is importable), notes, and the
    variables in order of use with their recorded values (the data file's header and first row)."""
    t = read_trajectory(folder)
    script_dir = (Path(out).parent if out else Path.cwd()).resolve()
    steps, notes, variables = build(t, script_dir, use_vars=use_vars)
    if not steps:
        raise ValueError(f"{folder}: no step can be exported to a fill script")
    doc: dict = {"name": Path(folder).name}
    if variables:
        doc["data"] = f"{Path(folder).name}.csv"
    doc["steps"] = steps
    header = [f"# agent fill script exported from {folder} ({len(t.steps)} recorded steps)"]
    if variables:
        buf = io.StringIO()
        csv.writer(buf).writerow(variables)
        header.append(f"# data file header (CSV): {buf.getvalue().strip()}")
    header += [f"# NOTE {n}" for n in notes]
    text = "\n".join(header) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    text = secrets.scrub_values(text)
    try:
        from agent.fill.script import parse_script
    except ImportError:  # the fill engine is not installed alongside: skip the check
        return text, notes, variables
    parse_script(text, source=str(out or "export"), path=Path(out) if out else None)
    return text, notes, variables
