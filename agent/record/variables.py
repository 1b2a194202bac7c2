"""The values a recording holds and the ones a replay was given: what ``--var NAME=VALUE`` changes.

A recording names its values (``agent.record.labelling``): a typed text has a ``var`` (``full_name``),
a choice a ``choice: {var, value}`` (a suggestion, a calendar day as YYYY-MM-DD, a table row by its
first cell, a radio option, a drop-down option). ``Values`` answers, for one replay: the text to type
(``text``), what a step's element must be now (``expected``: another suggestion, another day, the row
of another departure) and which recorded values were replaced by which (``changed``: the page heading
a step awaits may show them). Also what a replay needs before it starts: the variables a recording
accepts (``variables_in``) and the secrets it will type (``missing_secrets``).
"""

from __future__ import annotations

import os
import re

from actions import secrets
from agent.record.resolve import Expected
from agent.trajectory import Trajectory

VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Values:
    """The recording's values with the replay's ``variables`` (name -> value) applied."""

    def __init__(self, recording: Trajectory, variables: dict[str, str]) -> None:
        self.rec, self.variables = recording, variables

    def changed(self) -> dict[str, str]:
        """Recorded value → the replay's, for every variable the replay changed."""
        out: dict[str, str] = {}
        for s in self.rec.steps:
            ch, var = s.get("choice") or {}, s.get("var")
            if ch.get("var") in self.variables and ch.get("value"):
                out[ch["value"]] = self.variables[ch["var"]]
            text = (s.get("action") or {}).get("text")
            if var in self.variables and text and not secrets.has_secret(text):
                out[text] = self.variables[var]
        return out

    def text(self, step: dict, text: str) -> str:
        """What to type for a typing step: the variable's new value, else the recorded text with any
        ``{name}`` in it filled in."""
        var = step.get("var")
        if var and var in self.variables:
            return self.variables[var]
        return VAR.sub(lambda m: self.variables.get(m.group(1), m.group(0)), text)

    def expected(self, step: dict) -> Expected | None:
        """What the step's element locator asks of the live screen (None without a locator)."""
        loc = (step.get("anchor") or {}).get("element")
        if not loc:
            return None
        ch = step.get("choice") or {}
        win = ((step.get("anchor") or {}).get("window") or {}).get("box")
        box = tuple(win) if win else None
        new = self.variables.get(ch.get("var")) if ch else None
        if new is None or loc.get("role") == "checkbox":  # a check box keeps its name; the value is its state
            return Expected(loc, window_box=box)
        if loc.get("row") and loc.get("role") not in ("listitem", "option", "radio") and not loc.get("month"):
            return Expected(loc, row=new, changed=True, window_box=box)  # the row of another departure
        return Expected(loc, name=new, changed=True, window_box=box)


def missing_secrets(recording: Trajectory, start: int = 0) -> list[str]:
    """Secret names the replay will type that are not set in the environment."""
    names: list[str] = []
    for s in recording.steps[start:]:
        a = s.get("action") or {}
        if a.get("type") == "type":
            names += [n for n in secrets.names_in(a.get("text", "")) if n not in os.environ and n not in names]
    return names


def variables_in(recording: Trajectory) -> list[str]:
    """The names ``--var`` accepts: typed values, chosen options and ``{name}`` in a typed text."""
    out: list[str] = []
    for s in recording.steps:
        for v in (s.get("var"), (s.get("choice") or {}).get("var")):
            if v and v not in out:
                out.append(v)
        a = s.get("action") or {}
        if a.get("type") == "type":
            out += [v for v in VAR.findall(a.get("text", "")) if v not in out]
    return out
