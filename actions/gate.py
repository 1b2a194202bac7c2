"""The risky-action gate: judge what is really on screen where an action lands, not the action's label.

A click carries at most a description of its target (GLM-4.5V's optional ``element_info``, a label a
recording stored). Trusting it charged money twice: a ``left_click`` on a "Pay €12.00" button with no
``element_info``, or with ``element_info='green button'``, went through unasked. So for every action
that can commit something — a click, a mouse press or release, a drag, Enter or Space, typing — the
gate collects **evidence**:

* what the screen shows at the target point *at the moment of acting* — the element under the
  pointer and the text immediately around it — from a ``ScreenProbe`` the caller plugs in (OCR of a
  region around the point, or the element model's accessible name); for keyboard actions, the element
  that has keyboard focus;
* the action's own text (the click's ``target``, the typed text) and the model's thought.

Any piece that contains a risky word (whole words by default: "Pay €12.00" and "Delete all" match,
"Continue to payment" does not; ``SafetyPolicy.risky_match``) makes the action need a person's yes.
A probe that cannot read the screen fails closed: the action needs a yes too.

``actions/`` imports nothing of ours, so the probe is a protocol; ``agent.elements.probe`` implements
it over the live screen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from actions import secrets
from actions.space import Action, Click, Drag, Hotkey, KeyPress, MouseDown, MouseUp, TypeText

#: Keys that activate the focused control (a default button, a focused "Pay").
ACTIVATING_KEYS = frozenset({"enter", "return", "space", "kpenter"})


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of text the gate read, and where it came from ("the screen under the pointer",
    "the model's thought", "the click's target"...)."""

    source: str
    text: str


class ScreenProbe(Protocol):
    """What the screen shows now, for the gate. Implementations read the live screen."""

    def under(self, x: float, y: float) -> list[Evidence]:
        """The element under screen point (x, y) and the text immediately around it."""
        ...

    def focus(self, hint: tuple[float, float] | None) -> list[Evidence]:
        """The element with keyboard focus; ``hint`` is where the pointer last acted (a visual probe
        without a focus API looks there)."""
        ...


class ProbeError(Exception):
    """The probe could not read the screen (the gate then fails closed)."""


def risky_pattern(words: Sequence[str], match: str = "word") -> re.Pattern[str] | None:
    """The regex for ``words``: ``word`` = whole words or phrases ("pay" matches "Pay €12" but not
    "payment"); ``prefix`` = word starts ("pay" matches "payment" too, not "repay")."""
    items = [w.strip() for w in words if w.strip()]
    if not items:
        return None
    if match not in ("word", "prefix"):
        raise ValueError(f"risky_match must be 'word' or 'prefix', got {match!r}")
    alt = "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in sorted(items, key=len, reverse=True))
    tail = r"(?!\w)" if match == "word" else ""
    return re.compile(rf"(?<!\w)({alt}){tail}", re.IGNORECASE)


def _points(action: Action) -> list[tuple[float, float]]:
    if isinstance(action, (Click, MouseDown, MouseUp)):
        return [] if action.x is None else [(action.x, action.y)]
    if isinstance(action, Drag):
        return [(action.x1, action.y1), (action.x2, action.y2)]
    return []


def needs_screen(action: Action) -> str | None:
    """How the gate must look at the screen for ``action``: ``"point"`` (what is under its point or
    the pointer), ``"focus"`` (the focused element), or None (the action commits nothing)."""
    if isinstance(action, (Click, MouseDown, MouseUp, Drag)):
        return "point"
    if isinstance(action, KeyPress) and action.key in ACTIVATING_KEYS:
        return "focus"
    if isinstance(action, Hotkey) and ACTIVATING_KEYS & set(action.keys):
        return "focus"
    if isinstance(action, TypeText):
        return "focus"
    return None


def collect(action: Action, *, thought: str | None, probe: ScreenProbe | None,
            pointer: tuple[float, float] | None) -> list[Evidence]:
    """Every piece of text the gate judges for ``action``. ``pointer`` is where the pointer is (a
    click without coordinates lands there) and the focus hint for keyboard actions."""
    how = needs_screen(action)
    if how is None:
        return []
    out: list[Evidence] = []
    if isinstance(action, Click) and action.target:
        out.append(Evidence("the click's target description", action.target))
    if isinstance(action, TypeText):
        out.append(Evidence("the typed text", secrets.PLACEHOLDER.sub(" ", action.text)))
    if thought:
        out.append(Evidence("the model's thought", thought))
    if probe is None:
        return out
    try:
        if how == "point":
            for x, y in _points(action) or ([pointer] if pointer else []):
                out += probe.under(x, y)
        else:
            out += probe.focus(pointer)
    except ProbeError as e:
        out.append(Evidence("unreadable", str(e)))
    return out


def assess(action: Action, evidence: list[Evidence], pattern: re.Pattern[str] | None) -> str | None:
    """Why ``action`` needs a person's yes, or None. Secret values never appear in the reason."""
    unread = next((e for e in evidence if e.source == "unreadable"), None)
    if unread is not None:
        return f"{action.kind}: the screen at the target could not be read ({secrets.mask(unread.text)[:120]})"
    if pattern is None:
        return None
    for e in evidence:
        m = pattern.search(e.text)
        if m:
            text = secrets.mask(" ".join(e.text.split()))
            shown = text if len(text) <= 80 else text[:77] + "..."
            return f"{action.kind}: {e.source} reads {shown!r}, which matches the risky word {m.group(1).lower()!r}"
    return None
