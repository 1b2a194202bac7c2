"""Fill's pieces without a display: variables in every string field, optional steps skipped, targets
picked from element lists (a control before its label, a heading before its group, ambiguity and
absence named), elements read back after acting, values compared the way each source allows, and the
date picker's reading of days and months. The elements are real ``Element`` s as the sources build them."""

from __future__ import annotations

import datetime as dt

import pytest

from actions.coords import Rect
from agent.elements.ground import ElementAmbiguous, ElementMissing
from agent.elements.model import Element, ScreenModel
from agent.fill.controls import same_text
from agent.fill.dates import day_element, parse_date, shown_month, written
from agent.fill.runner import screen_texts
from agent.fill.script import MissingValue, ScriptError, Target, parse_script, resolve
from agent.fill.targets import StepFailed, pick, same_element


def el(role, name, x, y, w=100, h=24, **kw) -> Element:
    return Element(role, name, Rect(x, y, w, h), **kw)


def steps(yaml_steps: str):
    return parse_script("steps:\n" + yaml_steps).steps


def test_variables_work_in_every_string_field_and_optional_empties_skip_any_step():
    s = steps('  - click: {text: Select, row: "{time}", near: "{anchor?}"}\n'
              '  - click: {image: "icons/{icon}.png"}\n'
              '  - choose: {group: "{group}", option: "{sex?}"}\n'
              '  - date: {field: "Travel date", value: "{date}"}\n'
              '  - if_present: {text: "{banner}", then: [{click: "{button?}"}]}\n'
              '  - press: tab\n')
    row = {"time": "12:40", "anchor": "", "icon": "gear", "group": "Sex", "sex": "", "date": "2025-07-14",
           "banner": "Cookies", "button": ""}
    assert resolve(s[0], row) is None  # an optional value used anywhere in the step: skipped
    assert resolve(s[0], {**row, "anchor": "Trains"}).click.near == "Trains"
    assert resolve(s[1], row).click.image == "icons/gear.png"
    assert resolve(s[2], row) is None and resolve(s[2], {**row, "sex": "Male"}).choose.group == "Sex"
    assert resolve(s[3], row).date.value == "2025-07-14"
    cond = resolve(s[4], row)  # its own target substituted; its steps wait until they run
    assert cond.if_present.target.text == "Cookies" and cond.if_present.then[0].click.text == "{button?}"
    assert resolve(s[5], row) is s[5]
    with pytest.raises(MissingValue, match="'time'"):
        resolve(s[0], {**row, "time": " "})
    assert parse_script('steps:\n  - click: {role: textarea}\n').steps[0].click.role == "textarea"
    with pytest.raises(ScriptError, match="unknown role 'txtarea'"):
        parse_script('steps:\n  - click: {text: Notes, role: txtarea}\n')


FORM = ScreenModel((
    el("heading", "Where are you going?", 60, 100, 600, 30),
    el("group", "Where are you going?", 60, 100, 600, 300),
    el("label", "Email", 60, 150, 60, 20),
    el("entry", "Email", 60, 172, 300, 28, value=""),
    el("label", "Age", 60, 210, 40, 20), el("spinbox", "Age", 60, 232, 90, 24, value="36"),
    el("label", "Children", 200, 210, 60, 20), el("spinbox", "Children", 200, 232, 90, 24, value=""),
    el("radio", "Female", 60, 270, 70, 18, group="Sex"), el("radio", "Male", 140, 270, 60, 18, group="Sex"),
    el("button", "Select", 500, 320, 80, 30, row="08:30 | 09:26 | direct"),
    el("button", "Select", 500, 360, 80, 30, row="11:20 | 12:16 | direct"),
), Rect(0, 0, 1280, 800))


def test_pick_prefers_controls_then_texts_then_containers_and_names_candidates():
    assert pick(FORM, Target(text="Email"), "click").role == "entry"  # the field, not its label
    assert pick(FORM, Target(text="Where are you going?"), "any").role == "heading"  # not the group
    assert pick(FORM, Target(text="Select", row="11:20"), "click").bounds.top == 360
    assert pick(FORM, Target(text="Male"), "radio").name == "Male"  # never "Female"
    with pytest.raises(ElementAmbiguous) as amb:
        pick(FORM, Target(text="Select"), "click")
    assert "'08:30 | 09:26 | direct'" in str(amb.value) and "say which with row" in str(amb.value)
    with pytest.raises(ElementAmbiguous, match="spinbox 'Age' at .*spinbox 'Children' at"):
        pick(FORM, Target(role="spinbox"), "field")
    with pytest.raises(ElementMissing) as miss:
        pick(FORM, Target(text="Email address line 2"), "field")
    assert "closest on screen: entry 'Email'" in str(miss.value)
    assert pick(FORM, Target(text="Age", region=(0, 200, 180, 80)), "field").name == "Age"
    # near: the anchor may be any element (a label), the candidates stay controls
    assert pick(FORM, Target(role="spinbox", near="Children"), "field").name == "Children"
    assert pick(FORM, Target(text="Select", near="Email"), "click").bounds.top == 320


def test_read_back_finds_the_same_element_even_when_pixels_changed_its_look():
    combo = el("combobox", "Department", 200, 197, 214, 21, value="")
    later = [el("entry", "Department", 200, 197, 175, 21, value="Mechanical Engineering"),
             el("combobox", "", 371, 193, 49, 29)]  # a long selected value drawn over the field
    assert same_element(later, combo).value == "Mechanical Engineering"
    moved = [el("combobox", "Department", 600, 500, 214, 21)]
    assert same_element(moved, combo) is None


@pytest.mark.parametrize("want,got,exact,ok", [
    ("ada@example.org", "ada@example.org", True, True),
    ("Two bikes.\nQuiet coach", "Two bikes. Quiet coach", True, True),  # whitespace aside
    ("ada@example.org", "ada@example.or", True, False),  # the tree is exact
    ("ada@example.org", "ada@exarnple.org", False, True),  # OCR: a misread letter
    ("0", "o", False, True), ("10", "1O", False, True), ("1", "1'", False, True),  # OCR's usual confusions
    ("1", "1'", True, False), ("12", "1", False, False),
    ("Mechanical Engineering", "Mechanical Enginee", False, True),  # scrolled out of a narrow field
    ("Ada Lovelace", "Alan Turing", False, False),
    ("36", "3", False, False), ("Austria", "Australia", False, False),
])
def test_values_are_compared_exactly_from_the_tree_and_forgivingly_from_pixels(want, got, exact, ok):
    assert same_text(want, got, exact=exact) is ok


def test_date_picker_days_by_accessible_name_or_number_in_the_shown_month():
    d = parse_date("2027-01-15")
    assert "15 January 2027" in written(d) and "January 15, 2027" in written(d)
    with pytest.raises(StepFailed, match="YYYY-MM-DD"):
        parse_date("15/01/2027")
    web = [el("heading", "January 2027", 100, 340, 200, 20),
           el("toggle", "Thursday 14 January 2027", 236, 479, 40, 35, row="Monday 11 January 2027 | ... | 17",
              states=frozenset({"enabled"})),
           el("toggle", "Friday 15 January 2027", 280, 479, 40, 35, states=frozenset({"enabled"})),
           el("cell", "Friday 15 January 2027", 278, 477, 44, 39)]
    assert shown_month(web) == (2027, 1)
    assert day_element(web, d).role == "toggle"  # the button, not its cell, not a row naming every day
    tk = [el("text", "Jan 2027", 100, 100, 80, 20),
          el("button", "15", 100, 200, 30, 30, states=frozenset({"enabled"})),
          el("button", "15", 100, 400, 30, 30)]  # the next month's 15th, greyed out
    assert day_element(tk, d).bounds.top == 200
    assert day_element(tk, dt.date(2027, 2, 15)) is None  # another month is shown: step first


def test_expected_text_split_by_the_visual_parse_is_read_as_one_line():
    model = [el("text", "Saved", 55, 559, 40, 14), el("text", "Ada Lovelace (#1)", 100, 559, 120, 14),
             el("text", "Ready", 55, 600, 40, 14)]
    assert "Saved Ada Lovelace (#1)" in screen_texts(model)
    assert not any("Ready" in t and "Saved" in t for t in screen_texts(model))
