"""The element model's data and its role + name grounding (no display needed)."""

from __future__ import annotations

import pytest

from actions.coords import Rect
from agent.elements.ground import (ElementAmbiguous, ElementMissing, ElementQuery, contains_words, find_all, locate,
                                   name_score)
from agent.elements.model import Element, ScreenModel, iou, reading_order, sort_elements
from model.grounding import GroundingError


def el(role, name, x, y, w=100, h=30, **kw):
    return Element(role, name, Rect(x, y, w, h), **kw)


def test_whole_words_never_match_inside_a_word():
    assert contains_words("Pay €12.00", "pay")
    assert contains_words("Delete all", "delete")
    assert not contains_words("Continue to payment", "pay")
    assert not contains_words("Female", "male")
    assert name_score("Male", "Female") < 0.8
    assert name_score("Email", "Email:") == 1.0
    assert name_score("Email", "Email address") >= 0.85
    assert name_score("Email", "Ema1l") >= 0.8  # OCR noise inside the word is forgiven
    assert name_score("Pay", "Payment") < 0.8


def test_id_is_stable_and_distinguishes_identical_buttons():
    a = el("button", "Select", 500, 100, window="w")
    b = el("button", "Select", 500, 100, window="w")
    c = el("button", "Select", 500, 140, window="w")
    assert a.id == b.id and a.id != c.id
    assert el("button", "OK", 1, 1, path=(0, 3)).id == el("button", "OK", 50, 80, path=(0, 3)).id


def test_unknown_role_or_state_is_rejected():
    with pytest.raises(ValueError):
        el("pushbutton", "x", 0, 0)
    with pytest.raises(ValueError):
        el("button", "x", 0, 0, states=frozenset({"shiny"}))


def test_at_prefers_the_smallest_interactive_element():
    dialog = el("dialog", "Payment", 0, 0, 600, 400)
    label = el("label", "Card", 10, 10, 60, 20)
    pay = el("button", "Pay €12.00", 200, 300, 150, 40)
    m = ScreenModel(sort_elements([dialog, label, pay]), Rect(0, 0, 1280, 800))
    assert m.at(250, 320) is not None and m.at(250, 320).name == "Pay €12.00"
    assert m.at(20, 15).role == "label"
    assert m.at(5, 390).role == "dialog"
    assert m.at(900, 700) is None


def test_locate_by_role_name_row_group_and_nth():
    rows = [el("button", "Select", 600, 100 + 40 * i, row=f"{t} Oslo Bergen NOK {p}")
            for i, (t, p) in enumerate([("07:10", 420), ("12:40", 300), ("18:25", 360)])]
    radios = [el("radio", "Male", 100, 400, group="Sex"), el("radio", "Female", 220, 400, group="Sex"),
              el("radio", "Male", 100, 450, group="Contact person")]
    fields = [el("entry", "Email", 100, 500), el("entry", "Email confirmation", 100, 540)]
    m = ScreenModel(sort_elements(rows + radios + fields), Rect(0, 0, 1280, 800))
    assert locate(m, ElementQuery(role="button", name="Select", row="12:40")).bounds.top == 140
    with pytest.raises(ElementAmbiguous) as e:
        locate(m, ElementQuery(role="button", name="Select"))
    assert len(e.value.candidates) == 3 and "row" in str(e.value)
    assert locate(m, ElementQuery(role="button", name="Select", nth=3)).bounds.top == 180
    assert locate(m, ElementQuery(role="radio", name="Male", group="Sex")).bounds.top == 400
    assert locate(m, ElementQuery(role="radio", name="Female")).bounds.left == 220
    assert locate(m, ElementQuery(role="field", name="Email")).bounds.top == 500  # exact beats contains
    with pytest.raises(ElementMissing) as e:
        locate(m, ElementQuery(role="checkbox", name="Terms"))
    assert isinstance(e.value, GroundingError)
    with pytest.raises(ElementMissing) as e:
        locate(m, ElementQuery(role="button", name="Select", row="09:00"))
    assert "Select" in str(e.value)
    assert [x.name for x in find_all(m, ElementQuery(role="radio", name="Male"))] == ["Male", "Male"]


def test_near_picks_the_closest_candidate():
    m = ScreenModel(sort_elements([el("label", "Billing", 0, 0), el("entry", "Street", 0, 40),
                                   el("label", "Shipping", 0, 300), el("entry", "Street", 0, 340)]),
                    Rect(0, 0, 800, 600))
    assert locate(m, ElementQuery(role="entry", name="Street", near="Shipping")).bounds.top == 340


def test_reading_order_joins_a_line_and_json_round_trips():
    a, b, c = el("label", "Name", 10, 12, 50, 16), el("entry", "Name", 80, 8, 200, 26), el("button", "OK", 10, 60)
    assert [e.role for e in reading_order([c, b, a])] == ["label", "entry", "button"]
    m = ScreenModel(sort_elements([a, b, c]), Rect(0, 0, 800, 600), sources=("visual",))
    back = ScreenModel.from_json(m.to_json())
    assert [e.id for e in back] == [e.id for e in m] and back.elements[1].bounds == b.bounds
    assert iou(Rect(0, 0, 10, 10), Rect(5, 0, 10, 10)) == pytest.approx(1 / 3)


def test_merge_accessibility_wins_and_visual_fills_gaps():
    from agent.elements.merge import merge

    a_email = el("entry", "Email", 100, 100, 200, 30, source="a11y", path=(0, 1))
    a_pay = el("button", "", 100, 200, 120, 40, source="a11y", path=(0, 2))  # an icon button: no name in the tree
    v_email = el("entry", "E-mail", 102, 101, 198, 28, value="ada@example.com")
    v_pay = el("button", "Pay €12.00", 104, 204, 112, 32)
    v_canvas = el("button", "Draw", 600, 300, 80, 30)       # a canvas widget the tree does not describe
    v_noise = el("text", "decoration", 600, 400, 80, 20)    # unmatched non-interactive text in a covered window
    v_outside = el("checkbox", "Remember me", 900, 700, 100, 20)
    m = merge([a_email, a_pay], [v_email, v_pay, v_canvas, v_noise, v_outside], covered=[Rect(0, 0, 800, 600)])
    by = {e.name: e for e in m}
    assert by["Email"].source == "both" and by["Email"].bounds == a_email.bounds  # tree's name and box
    assert by["Email"].value == "ada@example.com" and by["Email"].id == a_email.id
    assert by["Pay €12.00"].source == "both" and by["Pay €12.00"].bounds == a_pay.bounds  # name from pixels
    assert "Draw" in by and "Remember me" in by and "decoration" not in by
    assert len(m) == 4
