"""Replay's checks after a step, and the repairs a recording knows how to make.

After each step the change the recording saw (``agent.record.locators.step_effect``) is awaited on
the live screen for a bounded time: the page heading it showed, the month a calendar showed, the kinds
of elements that appeared (a suggestion list, a dialog) or vanished. ``unmet`` says what is still
missing; nothing there is a match on data that ``--var`` may have changed, except a heading, whose
recorded values are replaced by the replay's (``Substitutions``).

A **calendar on another month** is the one mismatch repaired here: the calendar opened on the month
of the site's "today" while recording, and today is another month (or another day was asked for with
``--var``). ``to_month`` pages the calendar with its own previous / next buttons — found by their
names ("Next month", "›", "»", "→") next to the month label — until the label shows the month
wanted, at most 24 pages, each click through the safe executor. A table row in another order needs
no repair: rows are found by their content (``agent.record.resolve``). Anything else unmet stops the
replay with what was expected and what the screen shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from agent.elements.ground import contains_words, name_score
from agent.elements.model import Element, ScreenModel, distance
from agent.record.locators import month_labels, month_of

NEXT = re.compile(r"\b(next|forward|later|following)\b|^\W*[›»>→▶⟩⏵]+\W*$", re.I)
PREV = re.compile(r"\b(prev|previous|back|earlier|last)\b|^\W*[‹«<←◀⟨⏴]+\W*$", re.I)
MAX_PAGES = 24


class Substitutions:
    """Recorded values → the replay's values (from ``--var``), applied to expected texts."""

    def __init__(self, pairs: dict[str, str] | None = None) -> None:
        self.pairs = {k: v for k, v in (pairs or {}).items() if k and k != v}

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for old, new in sorted(self.pairs.items(), key=lambda p: -len(p[0])):
            text = text.replace(old, new)
        return text


def current_month(model: ScreenModel) -> tuple[Element, tuple[int, int]] | None:
    labels = month_labels(model)
    return (labels[0], month_of(labels[0].name)) if labels else None


def pager(model: ScreenModel, label: Element, forward: bool) -> Element | None:
    """The calendar's button that pages forward (or back), nearest its month label."""
    pat = NEXT if forward else PREV
    cands = [e for e in model if e.role in ("button", "link", "toggle")
             and (pat.search(e.name or "") or pat.search(e.description or ""))
             and (e.source == "visual" or "enabled" in e.states)]  # a disabled pager: the first or last month
    cx, cy = label.center
    near = [e for e in cands if distance(e.bounds, cx, cy) <= 300]
    return min(near, key=lambda e: distance(e.bounds, cx, cy)) if near else None


def to_month(want: tuple[int, int], snapshot: Callable[[bool], ScreenModel],
             click: Callable[[Element], None], *, timeout: float) -> str | None:
    """Page the calendar on screen until it shows ``want`` (year, month); None when it does, else why
    not (no calendar, no pager button, the month did not change after a click)."""
    model = snapshot(False)
    for _ in range(MAX_PAGES + 1):
        cur = current_month(model)
        if cur is None:
            return "no calendar month is shown"
        label, month = cur
        if month == want:
            return None
        forward = month < want
        btn = pager(model, label, forward)
        if btn is None:
            return f"the calendar shows {label.name!r} and has no {'next' if forward else 'previous'} button"
        click(btn)
        deadline = time.monotonic() + timeout
        while True:
            model = snapshot(True)
            now = current_month(model)
            if now is not None and now[1] != month:
                break
            if time.monotonic() > deadline:
                return f"the calendar stayed on {label.name!r} after clicking {btn.label()}"
            time.sleep(0.05)
    return f"the calendar did not reach the month within {MAX_PAGES} pages"


def _keys(model: ScreenModel) -> set[tuple[str, str]]:
    return {(e.role, e.name) for e in model if e.name}


def unmet(effect: dict, before: ScreenModel, now: ScreenModel, subst: Substitutions) -> list[str]:
    """What of the recorded effect the live screen does not show yet (empty: all of it)."""
    out: list[str] = []
    heading = subst(effect.get("heading"))
    old = _keys(before)
    if heading:  # newly shown, in whatever role (a tree may call a text a heading once, a label the next)
        if not any((e.role, e.name) not in old and (name_score(heading, e.name) >= 0.8 or contains_words(e.name, heading))
                   for e in now if e.name):
            heads = [e.name for e in now if e.role == "heading"]
            out.append(f"the heading {heading!r} (headings now: {', '.join(map(repr, heads[:4])) or 'none'})")
    if effect.get("month"):
        cur = current_month(now)
        if cur is None or cur[1] != month_of(effect["month"]):
            out.append(f"the month {effect['month']!r} (shown: {cur[0].name if cur else 'no calendar'!r})")
    for role in effect.get("roles_appeared") or ():
        if not any(e.role == role and (e.role, e.name) not in old for e in now):
            out.append(f"a new {role}")
    for role in effect.get("roles_vanished") or ():
        if sum(e.role == role for e in now) >= max(1, sum(e.role == role for e in before)):
            out.append(f"the {role}s gone")
    return out


def other_month(want: tuple[int, int] | None, now: ScreenModel) -> bool:
    """True when a calendar is shown on another month than ``want`` (repairable by ``to_month``)."""
    cur = current_month(now)
    return want is not None and cur is not None and cur[1] != want
