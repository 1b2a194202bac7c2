"""``agent export``: turn a recording into an ``agent fill`` script a person can read and edit.

A recording replays one session exactly; a fill script runs the same steps for many data rows and
names its targets by what they *say* ("Save", the field labelled "Name"), which survives redesigns
that break a pixel crop. So the export prefers text anchors (OCR text of a clicked button, the label
left of a clicked field) and falls back to the recorded crop as ``image:`` (a path relative to the
script, as ``agent fill`` resolves it).

Typed values become ``{var}`` placeholders with ``vars=True`` (and a CSV header to start the data
file from); secrets stay ``{{secret:NAME}}``. What a fill script cannot express (a drag) is kept as a
comment so nothing is dropped silently. The format is the one ``agent.fill_script`` validates; the
export is checked against it when that module is importable.
"""

from __future__ import annotations

import csv
import io
import os
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


def build(t: Trajectory, script_dir: Path, *, use_vars: bool = False) -> tuple[list, list[str], list[str]]:
    """(steps, notes, variables). ``notes`` become comments for what needs a person's edit."""
    folder = t.folder.resolve()
    steps: list = []
    notes: list[str] = []
    variables: list[str] = []
    last_click: dict | None = None
    for s in t.steps:
        a = s.get("action") or {}
        kind = a.get("type")
        person = (s.get("timings") or {}).get("person_s") or 0
        target = _target(s, script_dir, folder)
        if person > 3 and isinstance(target, str) and kind in ("click", "scroll"):
            steps.append({"wait_for": target})  # the person waited for something to appear
        if kind == "click":
            if target is None:
                notes.append(f"step {s.get('index')}: a click at ({a.get('x')}, {a.get('y')}) has no anchor; skipped")
                continue
            key = {1: "click", 2: "double_click"}.get(a.get("clicks", 1), "double_click")
            steps.append({key: target})
            last_click = s
        elif kind == "type":
            text = a.get("text", "")
            if use_vars and not secrets.has_secret(text) and s.get("var"):
                variables.append(s["var"])
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
        elif kind in ("done", "fail", None):
            continue
        else:
            notes.append(f"step {s.get('index')}: {kind} {({k: v for k, v in a.items() if k != 'type'})} "
                         "cannot be written as a fill step; do it by hand or replay the recording")
    return steps, notes, variables


def export_yaml(folder: str | Path, out: str | Path | None = None, *, use_vars: bool = False) -> tuple[str, list[str], list[str]]:
    """The fill script text (validated when ``agent.fill_script`` is importable), notes, variables."""
    t = read_trajectory(folder)
    script_dir = (Path(out).parent if out else Path.cwd()).resolve()
    steps, notes, variables = build(t, script_dir, use_vars=use_vars)
    if not steps:
        raise ValueError(f"{folder}: no step can be exported to a fill script")
    doc: dict = {"name": Path(folder).name, "steps": steps}
    if variables:
        doc["data"] = f"{Path(folder).name}.csv"
    header = [f"# agent fill script exported from {folder} ({len(t.steps)} recorded steps)"]
    if variables:
        buf = io.StringIO()
        csv.writer(buf).writerow(variables)
        header.append(f"# data file header (CSV): {buf.getvalue().strip()}")
    header += [f"# NOTE {n}" for n in notes]
    text = "\n".join(header) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    text = secrets.scrub_values(text)
    try:
        from agent.fill_script import parse_script
    except ImportError:  # the fill engine is not installed alongside: skip the check
        return text, notes, variables
    parse_script(text, source=str(out or "export"), path=Path(out) if out else None)
    return text, notes, variables
