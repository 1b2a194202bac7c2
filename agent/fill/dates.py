"""``date: {field: ..., value: YYYY-MM-DD}``: pick a day in a date picker the way a person does.

Why a step of its own: a calendar is not a field a value can be typed into, and the clicks it takes
depend on the data — three months ahead is three clicks on "Next month". A person reads the month
heading, steps with the next/previous buttons until the month shows, and clicks the day. So does
this step, on the element model:

* the **day** is an element that can be acted on whose name holds the date written out ("Tuesday 1
  December 2026", "December 1, 2026", "2026-12-01" — accessible names of web date pickers), else,
  once the shown month is the one wanted, the one enabled element named by the day's number;
* the **month** shown is an element named "<Month> <year>" (full or three-letter month names);
* **next / previous** are buttons named so ("Next month", "Previous", "›", "»", "<" ...);
* **verified** when, after the click, the date shows somewhere else on screen written out in one of
  those forms (the field or a line beside it), or the day reads pressed / selected.

Limits: English month names; ISO dates in the data.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from agent.elements.ground import contains_words, normalize
from agent.elements.model import Element, reading_order
from agent.fill.script import DateStep
from agent.fill.targets import Hit, StepFailed

if TYPE_CHECKING:
    from agent.fill.runner import FillRunner

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_MONTH_NAME = {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_HEADING = re.compile(r"^([a-z]+)\.?,? (\d{4})$")
_NEXT = re.compile(r"\b(next|forward|later)\b|^[›»>→▶⟩⯈]+$")
_PREV = re.compile(r"\b(prev|previous|back|earlier)\b|^[‹«<←◀⟨⯇]+$")
#: Months one date step may step through (five years either way).
MAX_MONTHS = 60


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise StepFailed(f"{value!r} is not a date as YYYY-MM-DD (e.g. 2025-07-14)") from None


def written(d: dt.date) -> list[str]:
    """How pickers and forms write ``d``: "1 December 2026", "December 1, 2026", ISO, numeric."""
    month = MONTHS[d.month - 1].capitalize()
    return [f"{d.day} {month} {d.year}", f"{month} {d.day}, {d.year}", d.isoformat(),
            f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.month:02d}/{d.day:02d}/{d.year}",
            f"{d.day:02d}.{d.month:02d}.{d.year}"]


def shows(e: Element, d: dt.date) -> bool:
    """Does ``e`` itself (its name, value or description — not its row) write out ``d``?"""
    return any(contains_words(t, w) for t in (e.name, e.value, e.description) if t for w in written(d))


def shown_month(model: Iterable[Element]) -> tuple[int, int] | None:
    """The (year, month) of the topmost "<Month> <year>" heading on screen, or None."""
    for e in reading_order(model):
        m = _HEADING.match(normalize(e.name))
        if m and m.group(1) in _MONTH_NAME:
            return int(m.group(2)), _MONTH_NAME[m.group(1)]
    return None


def day_element(model: Iterable[Element], d: dt.date) -> Element | None:
    """The element to click for ``d`` (module docstring); ``StepFailed`` when two could be it."""
    els = [e for e in model if e.interactive]
    named = [e for e in els if shows(e, d)]
    if not named and shown_month(model) == (d.year, d.month):
        named = [e for e in els if normalize(e.name) in (str(d.day), f"{d.day:02d}")]
        enabled = [e for e in named if e.has("enabled")]
        named = enabled if len(enabled) == 1 else named
    if len(named) > 1:
        raise StepFailed(f"{len(named)} elements could be {d.isoformat()}: "
                         + "; ".join(f"{e.label()} at ({e.bounds.left:.0f}, {e.bounds.top:.0f})" for e in named[:6]))
    return named[0] if named else None


def _nav(model: Iterable[Element], forward: bool) -> Element | None:
    pattern = _NEXT if forward else _PREV
    hits = [e for e in model if e.role in ("button", "link", "toggle") and pattern.search(normalize(e.name))]
    return reading_order(hits)[0] if hits else None


def pick_date(fill: "FillRunner", v: DateStep, desc: str, timeout: float) -> None:
    d = parse_date(v.value)
    finder = fill.finder
    if finder.modeler is None:
        raise StepFailed("date steps read the date picker from the screen element model (not with --no-elements)")
    if v.field is not None:
        fill.click(finder.find(v.field, "click", timeout), desc)
    deadline, fresh, day = time.monotonic() + timeout, False, None
    for _ in range(MAX_MONTHS):
        model = finder.model(fresh)
        day = day_element(model, d)
        if day is not None:
            break
        month = shown_month(model)
        if month is None:
            if time.monotonic() >= deadline:
                raise StepFailed(f"no date picker month (a '<Month> <year>' heading) on screen to pick {d.isoformat()} "
                                 f"(screenshot {fill.save_shot(finder.shot(), 'date')})")
            time.sleep(0.05)
            fresh = True
            continue
        forward = month < (d.year, d.month)
        nav = _nav(model, forward)
        if nav is None or not nav.has("enabled"):
            what = "no" if nav is None else "a disabled"
            raise StepFailed(f"the picker shows {MONTHS[month[1] - 1].capitalize()} {month[0]} and has {what} "
                             f"{'next' if forward else 'previous'} button to reach {d.isoformat()}")
        fill.click(Hit.of(nav), f"{desc}: {'next' if forward else 'previous'} month")
        deadline, fresh = time.monotonic() + timeout, False
        while shown_month(finder.model(fresh)) == month and time.monotonic() < deadline:
            time.sleep(0.05)
            fresh = True
    if day is None:
        raise StepFailed(f"{d.isoformat()} was not reached in the date picker")
    if not day.has("enabled"):
        raise StepFailed(f"{d.isoformat()} cannot be chosen: {day.label()} is disabled")
    fill.click(Hit.of(day), desc)
    _verify(fill, day, d, timeout)


def _verify(fill: "FillRunner", day: Element, d: dt.date, timeout: float) -> None:
    deadline, fresh = time.monotonic() + timeout, False
    while True:
        model = fill.finder.model(fresh)
        elsewhere = [e for e in model if e.id != day.id and shows(e, d)
                     and not (e.name == day.name and (e.interactive or e.role == "cell"))]  # not the picker's own
        again = next((e for e in model if e.id == day.id), None)
        if elsewhere or (again is not None and again.states & {"pressed", "selected", "checked"}):
            return
        if time.monotonic() >= deadline:
            raise StepFailed(f"clicked {day.label()} but {d.isoformat()} does not show as chosen "
                             f"(screenshot {fill.save_shot(fill.finder.shot(), 'date')})")
        time.sleep(0.05)
        fresh = True
