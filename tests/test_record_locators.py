"""The element side of record and replay without a display: locators, effects and variable names read
from hand-built screen models; replay's element search (rows reordered, a value changed by --var, a
caption carrying a price, a calendar day by its date), the identity and focus checks, the calendar
repair, and the export of choices into fill steps the fill parser accepts."""

from __future__ import annotations

import pytest

from actions.coords import Rect
from agent.elements.ground import ElementAmbiguous, ElementMissing
from agent.elements.model import Element, ScreenModel
from agent.record.locators import (choice_name, choice_value, day_date, element_locator, month_in, month_of,
                                   stable_name, step_effect, var_name)
from agent.record.repair import Substitutions, to_month, unmet
from agent.record.resolve import Expected, find, focus_problem, identity

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def el(role, name, x, y, w=80, h=30, **kw) -> Element:
    kw.setdefault("source", "a11y")
    kw.setdefault("states", frozenset({"enabled"}))
    return Element(role, name, Rect(x, y, w, h), **kw)


def model(*els: Element) -> ScreenModel:
    return ScreenModel(tuple(els), Rect(0, 0, 1280, 800))


def results(order: list[str]) -> ScreenModel:
    """A results table: a header row, then one row per departure, each with an identical Select button."""
    els = [el("cell", "Departure", 60, 100, 100, 30, row="Departure | Price | Choose")]
    for k, dep in enumerate(order):
        row = f"{dep} | €{30 + k}.90 | Select"
        y = 140 + 50 * k
        els += [el("cell", dep, 60, y, 100, 40, row=row), el("button", "Select", 400, y + 5, 80, 30, row=row)]
    return model(*els)


def test_months_days_and_names():
    assert month_of("December 2026") == (2026, 12) and month_of("Sept. 2027") == (2027, 9)
    assert month_of("Tuesday 15 December 2026") is None and month_in("Tuesday 15 December 2026") == (2026, 12)
    assert day_date("Tuesday 15 December 2026") == "2026-12-15" and day_date("December 5, 2026") == "2026-12-05"
    assert day_date("15", "February 2027") == "2027-02-15" and day_date("31", "February 2027") is None
    assert var_name("Full name:") == "full_name" and var_name("42") == "text" and var_name("E-mail") == "e_mail"
    assert stable_name("Pay €88.80") == "Pay" and stable_name("Select") == "Select"


def test_a_row_button_is_located_by_its_row_and_named_by_its_column():
    m = results(["06:10", "08:40", "14:00"])
    target = [e for e in m if e.role == "button"][2]
    loc = element_locator(m, target, target.center)
    assert loc["row"].startswith("14:00 |") and loc["column"] == "Departure" and "nth" not in loc
    assert choice_name(loc) == "departure" and choice_value(loc) == "14:00"
    # replayed with the rows in another order: the same train, not the third row
    found = find(results(["14:00", "06:10", "08:40"]), Expected(loc))
    assert found.row.startswith("14:00 |") and found.bounds.top == 145
    # --var departure=08:40: the row by its first cell
    assert find(results(["14:00", "06:10", "08:40"]), Expected(loc, row="08:40", changed=True)).row.startswith("08:40")
    with pytest.raises(ElementMissing, match="23:59"):
        find(results(["06:10"]), Expected(loc, row="23:59", changed=True))


def test_identical_elements_without_context_are_an_error_not_a_guess():
    a, b = el("button", "Delete", 100, 100), el("button", "Delete", 100, 300)
    loc = element_locator(model(a, b), b, b.center)
    assert loc["nth"] == 2
    assert find(model(a, b), Expected(loc)).bounds.top == 300  # the recorded one, by reading order
    del loc["nth"]
    loc["bounds"] = [100, 200, 80, 30]  # halfway between: the position cannot tell either
    with pytest.raises(ElementAmbiguous):
        find(model(a, b), Expected(loc))


def test_a_caption_with_data_is_found_by_its_words_and_a_calendar_day_by_its_date():
    pay = el("button", "Pay €88.80", 100, 500)
    loc = element_locator(model(pay), pay, pay.center)
    assert find(model(el("button", "Pay €52.40", 300, 600)), Expected(loc)).name == "Pay €52.40"
    assert find(model(el("button", "Payment options", 300, 600), el("button", "Pay €1.00", 10, 10)),
                Expected(loc)).name == "Pay €1.00"
    day = el("toggle", "Tuesday 15 December 2026", 148, 479, 40, 35, group="December 2026",
             window="Choose a travel date")
    loc = element_locator(model(day), day, day.center)
    assert loc["month"] == "December 2026" and choice_name(loc) == "travel_date"
    january = model(el("heading", "January 2027", 180, 340, 150, 24),
                    *[el("toggle", f"Wednesday {d} January 2027", 100 + 10 * d, 480, 40, 35, group="January 2027")
                      for d in (12, 13, 14)])
    assert find(january, Expected(loc, name="2027-01-13", changed=True)).name == "Wednesday 13 January 2027"
    visual = model(el("heading", "January 2027", 180, 340, 150, 24, source="visual"),
                   *[el("button", str(d), 100 + 50 * d, 480, 40, 35, source="visual") for d in (12, 13, 14)])
    assert find(visual, Expected(loc, name="2027-01-13", changed=True)).name == "13"


def test_identity_rejects_another_element_but_not_an_unreadable_one():
    email, name = el("entry", "Email", 100, 100, 300), el("entry", "Full name", 100, 200, 300)
    loc = element_locator(model(email, name), email, email.center)
    assert identity(model(email, name), Expected(loc), *name.center).startswith("the element there is entry 'Full name'")
    assert identity(model(email, name), Expected(loc), *email.center) is None
    assert identity(model(email, name), Expected(loc), 900, 700) is None  # nothing there to contradict
    junk = el("label", "日", 100, 100, source="visual")
    vis = {**loc, "source": "visual", "name": "o"}
    assert identity(model(junk), Expected(vis), *junk.center) is None  # a misread widget says nothing


def test_typing_goes_only_where_the_recording_typed():
    field = element_locator(model(el("entry", "Password", 0, 0)), el("entry", "Password", 0, 0), (10, 10))
    assert focus_problem(field, el("entry", "Password", 5, 5), None) is None
    assert "keyboard focus is on entry 'Name'" in focus_problem(field, el("entry", "Name", 5, 5), None)
    assert focus_problem(field, None, el("entry", "Password", 5, 5)) is None  # clicked just before
    assert "cannot be seen" in focus_problem(field, None, None)  # after Tab, nothing says where it went
    select = {"role": "combobox", "name": "Passengers"}
    assert focus_problem(select, el("option", "2 passengers", 0, 0), None) is None  # its list is open


def test_effects_are_data_free_and_a_role_read_differently_is_no_new_heading():
    before = model(el("text", "Rail&Go", 10, 10, 100, 20), el("heading", "Where are you going?", 10, 50, 400, 30),
                   el("text", "Payment", 600, 10, 60, 20))
    after = model(el("heading", "Rail&Go", 10, 10, 100, 20), el("heading", "Payment", 10, 50, 400, 30),
                  el("listitem", "Paris Nord", 10, 100), el("listitem", "Paris Est", 10, 140))
    eff = step_effect(before, after)
    assert eff["heading"] == "Payment" and eff["roles_appeared"] == ["heading", "listitem"]
    assert unmet(eff, before, after, Substitutions()) == []
    assert unmet(eff, before, before, Substitutions()) == ["the heading 'Payment' (headings now: "
                                                           "'Where are you going?')", "a new heading", "a new listitem"]
    results_heading = {"heading": "Paris Nord → Brussels Midi"}
    swapped = model(el("heading", "Berlin Hbf → Brussels Midi", 10, 50, 400, 30))
    assert unmet(results_heading, before, swapped, Substitutions({"Paris Nord": "Berlin Hbf"})) == []
    cal = step_effect(before, model(*before, el("heading", "December 2026", 180, 340, 150, 24)))
    assert cal == {"month": "December 2026", "appeared": ["heading: December 2026"], "roles_appeared": ["heading"]}


class Calendar:
    """A calendar that pages when its Next / Previous month buttons are clicked."""

    def __init__(self, year: int, month: int) -> None:
        self.ym = (year, month)
        self.clicks: list[str] = []

    def snapshot(self, fresh: bool) -> ScreenModel:
        y, m = self.ym
        return model(el("button", "Previous month", 100, 335, 40, 37), el("heading", f"{MONTHS[m - 1]} {y}", 180, 342, 150, 24),
                     el("button", "Next month", 370, 335, 40, 37))

    def click(self, e: Element) -> None:
        self.clicks.append(e.name)
        y, m = self.ym
        m += 1 if e.name == "Next month" else -1
        self.ym = (y + (m > 12) - (m < 1), (m - 1) % 12 + 1)


def test_the_calendar_is_paged_to_the_recorded_month():
    cal = Calendar(2026, 11)
    assert to_month((2027, 1), cal.snapshot, cal.click, timeout=1) is None
    assert cal.clicks == ["Next month", "Next month"] and cal.ym == (2027, 1)
    assert to_month((2026, 12), cal.snapshot, cal.click, timeout=1) is None and cal.ym == (2026, 12)
    stuck = Calendar(2026, 11)
    stuck.click = lambda e: stuck.clicks.append(e.name)  # the button does nothing
    assert "stayed on 'November 2026'" in to_month((2027, 1), stuck.snapshot, stuck.click, timeout=0.2)
    assert to_month((2027, 1), lambda fresh: model(), cal.click, timeout=0.2) == "no calendar month is shown"


def test_export_writes_choices_as_fill_steps(tmp_path):
    from actions.space import Click, KeyPress, TypeText
    from agent.record.export import export_yaml
    from agent.trajectory import TrajectoryWriter

    def loc(role, name, **kw):
        return {"role": role, "name": name, "source": "a11y", "bounds": [0, 0, 10, 10], "rel": [0.5, 0.5], **kw}

    rec = tmp_path / "rec"
    with TrajectoryWriter(rec, kind="record") as w:
        def click(element, **step):
            w.append({"action": Click(5, 5).to_json(), "ok": True, "anchor": {"element": element}, **step})

        click(loc("combobox", "From", states=["editable"]))
        w.append({"action": TypeText("par").to_json(), "ok": True, "var": "from",
                  "focus": loc("combobox", "From", states=["editable"])})
        click(loc("listitem", "Paris Nord", group="From stations"), choice={"var": "from", "value": "Paris Nord"})
        click(loc("button", "Select a date"), effect={"month": "December 2026"})
        click(loc("button", "Next month"), effect={"month": "January 2027"})
        click(loc("toggle", "Friday 15 January 2027", month="January 2027"),
              choice={"var": "travel_date", "value": "2027-01-15"})
        click(loc("combobox", "Passengers"))
        w.append({"action": TypeText("2").to_json(), "ok": True, "var": "passengers", "focus": loc("combobox", "Passengers")})
        w.append({"action": KeyPress("enter").to_json(), "ok": True,
                  "choice": {"var": "passengers", "value": "2 passengers"}})
        click(loc("button", "Select", row="14:00 | €37.90 | Select", column="Departure"),
              choice={"var": "departure", "value": "14:00"})
        click(loc("radio", "Window", group="Seat"), choice={"var": "seat", "value": "Window"})
        click(loc("checkbox", "Add travel insurance"), choice={"var": "travel_insurance", "value": "yes"})
        click(loc("button", "Pay €88.80"))
    text, notes, variables = export_yaml(rec, tmp_path / "s.yaml", use_vars=True)  # validated by the fill parser
    import yaml

    steps = yaml.safe_load(text)["steps"]
    from agent.fill.script import ACTIONS

    date = ({"date": {"value": "{travel_date}", "field": {"name": "Select a date", "role": "button"}}}
            if "date" in ACTIONS else {"click": {"name": "{travel_date}", "role": "button"}})
    want = [{"type": {"into": {"name": "From", "role": "combobox"}, "text": "{from}"}},
            {"click": {"name": "{from}", "role": "listitem"}}]
    if "date" not in ACTIONS:  # no date step to page the calendar: the person's clicks stay
        want += [{"click": {"name": "Select a date", "role": "button"}}, {"click": {"name": "Next month", "role": "button"}}]
    want += [date, {"select": {"field": {"name": "Passengers", "role": "combobox"}, "option": "{passengers}"}},
             {"click": {"name": "Select", "role": "button", "row": "{departure}"}},
             {"choose": {"group": "Seat", "option": "{seat}"}},
             {"check": {"label": "Add travel insurance", "value": "{travel_insurance}"}},
             {"click": {"name": "Pay", "role": "button"}}]
    assert steps == want, text
    assert variables == {"from": "Paris Nord", "travel_date": "2027-01-15", "passengers": "2 passengers",
                         "departure": "14:00", "seat": "Window", "travel_insurance": "yes"}
    assert notes == []
