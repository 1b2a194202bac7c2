"""``agent export``: turn a recording into an ``agent fill`` script a person can read and edit.

A recording replays one session exactly; a fill script runs the same steps for many data rows and
names its targets by what they *say* ("Save", the field labelled "Name"), which survives redesigns
that break a pixel crop. So the export prefers text anchors (OCR text of a clicked button, the label
left of a clicked field) and falls back to the recorded crop as ``image:`` (a path relative to the
script, as ``agent fill`` resolves it).

A click that only puts the cursor in a field is folded into the ``type`` that follows (``type: {into:
...}`` clicks the field itself). A click that opens a list and a click on an item of it become one
``select: {field, option}``: the second click's spot changed after the first one (the list appeared)
and changed back after it (the list closed); the option is the text of the clicked row.

Typed values (and chosen options) become ``{var}`` placeholders with ``vars=True`` (and a CSV header
to start the data file from); secrets stay ``{{secret:NAME}}``. What a fill script cannot express (a
drag) is kept as a comment so nothing is dropped silently. The format is the one ``agent.fill.script`` validates; the
export is checked against it when that module is importable.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import yaml

from actions import secrets
from agent.trajectory import Trajectory, read_trajectory


def _target(step: dict, script_dir: Path, folder: Path) -> dict | str | None:
    anchor = step.get("anchor") or {}
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


def build(t: Trajectory, script_dir: Path, *, use_vars: bool = False) -> tuple[list, list[str], dict[str, str]]:
    """(steps, notes, variables: name -> recorded value). ``notes`` become comments for what needs a
    person's edit."""
    folder = t.folder.resolve()
    steps: list = []
    notes: list[str] = []
    variables: dict[str, str] = {}
    taken = {s["var"] for s in t.steps if s.get("var")}
    last_click: dict | None = None
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
            steps.append({"wait_for": target})  # the person waited for something to appear
        if kind == "click":
            option = _dropdown(s, nxt, todo[i + 1] if i + 1 < len(todo) else None, folder) if nxt else None
            if option is not None:
                field = s["anchor"]["label"]
                if use_vars:
                    name = _unique(_name(field), taken)
                    variables[name] = option
                    option = "{%s}" % name
                steps.append({"select": {"field": field, "option": option}})
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
            steps.append({key: target})
        elif kind == "type":
            text = a.get("text", "")
            if use_vars and not secrets.has_secret(text) and s.get("var"):
                variables[s["var"]] = text
                text = "{%s}" % s["var"]
            into = _field(last_click, script_dir, folder)
            if into is None:
                into = {"description": "the field that has keyboard focus"}
                notes.append(f"step {s.get('index')}: typing without a click before it (e.g. after Tab); "
                             "name the field in 'into'")
            steps.append({"type": {"into": into, "text": text}})
            last_click = None
        elif kind == "press":
            steps.append({"press": a["key"] if a.get("presses", 1) == 1 else {"key": a["key"], "presses": a["presses"]}})
            last_click = None
        elif kind == "hotkey":
            steps.append({"hotkey": "+".join(a.get("keys") or [])})
        elif kind == "scroll":
            sc = {k: a[k] for k in ("dy", "dx") if a.get(k)}
            if target is not None:
                sc["at"] = target
            steps.append({"scroll": sc})
        elif kind == "wait":
            steps.append({"wait": a.get("seconds", 1)})
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
