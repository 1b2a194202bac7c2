"""The typed action space: JSON round trip and validation."""

import json

import pytest

from actions.errors import ActionValidationError
from actions.keys import normalize_key, parse_combo
from actions.space import (
    ACTION_TYPES, Click, Done, Drag, Fail, Hotkey, KeyDown, KeyPress, KeyUp, MouseDown, MouseUp,
    MoveTo, Scroll, TypeText, Wait, action_from_json,
)

EXAMPLES = [
    MoveTo(10, 20), MoveTo(1.5, 2.5, duration=0.2),
    Click(), Click(5, 6), Click(5, 6, button="right"), Click(5, 6, clicks=2), Click(5, 6, "middle", 3, "OK"),
    MouseDown(), MouseDown(1, 2, "right"), MouseUp(3, 4),
    Drag(1, 2, 3, 4), Drag(1, 2, 3, 4, "right", 0),
    Scroll(dy=-3), Scroll(dx=4, x=10, y=10), Scroll(dy=2, dx=-1),
    TypeText("hello\nworld"), TypeText("{{secret:PW}}"),
    KeyPress("enter"), KeyPress("tab", presses=3), KeyDown("shift"), KeyUp("shift"),
    Hotkey(("ctrl", "c")), Wait(0.5), Done(), Done("42"), Fail("impossible"),
]


@pytest.mark.parametrize("action", EXAMPLES, ids=lambda a: a.describe())
def test_json_round_trip(action):
    data = action.to_json()
    assert json.loads(json.dumps(data)) == data
    assert action_from_json(data) == action
    assert action_from_json(json.dumps(data)) == action


def test_every_type_has_an_example():
    assert {a.kind for a in EXAMPLES} == set(ACTION_TYPES)
    assert len(ACTION_TYPES) >= 14  # computer_13 and then some


@pytest.mark.parametrize("data, message", [
    ({"type": "press", "key": "enterr"}, "unknown key name 'enterr'"),
    ({"type": "hotkey", "keys": ["ctrl", "nokey"]}, "unknown key name 'nokey'"),
    ({"type": "hotkey", "keys": []}, "non-empty"),
    ({"type": "click", "x": 1, "y": 2, "clicks": -1}, "clicks must be 1..3"),
    ({"type": "click", "x": 1, "y": 2, "clicks": 4}, "clicks must be 1..3"),
    ({"type": "click", "x": 1}, "x and y must be given together"),
    ({"type": "click", "x": "1", "y": 2}, "x must be a finite number"),
    ({"type": "click", "x": float("nan"), "y": 2}, "finite"),
    ({"type": "click", "x": True, "y": 2}, "finite number"),
    ({"type": "click", "x": 1, "y": 2, "button": "thumb"}, "button must be one of"),
    ({"type": "click", "x": 1, "y": 2, "foo": 1}, "unknown field(s) foo"),
    ({"type": "press", "key": "a", "presses": -2}, "presses must be 1..100"),
    ({"type": "scroll"}, "non-zero"),
    ({"type": "scroll", "dy": 1.5}, "integer number of wheel clicks"),
    ({"type": "wait", "seconds": -1}, "seconds must be >= 0"),
    ({"type": "type", "text": ""}, "non-empty"),
    ({"type": "type"}, "missing"),
    ({"type": "teleport"}, "unknown action type 'teleport'"),
    ({"x": 1}, "unknown action type None"),
    ([1, 2], "must be a JSON object"),
    ("{not json", "not valid JSON"),
])
def test_validation_errors_are_clear(data, message):
    with pytest.raises(ActionValidationError) as e:
        action_from_json(data)
    assert message in str(e.value)


def test_key_aliases_and_combos():
    assert normalize_key("Return") == "enter"
    assert normalize_key("ESC") == "escape"
    assert normalize_key("Control") == "ctrl"
    assert normalize_key("PgDn") == "pagedown"
    assert normalize_key("A") == "a"
    assert normalize_key(" ") == "space"
    assert parse_combo("ctrl+shift+T") == ("ctrl", "shift", "t")
    assert parse_combo("ctrl++") == ("ctrl", "+")
    assert Hotkey.parse("alt+F4").keys == ("alt", "f4")
    assert KeyPress("Page_Down").key == "pagedown"


def test_actions_are_frozen_and_hashable():
    c = Click(1, 2)
    with pytest.raises(Exception):
        c.x = 5  # type: ignore[misc]
    assert len({c, Click(1, 2)}) == 1


def test_describe_masks_secrets():
    assert "***" in TypeText("pw: {{secret:PW}}").describe()
    assert "secret:PW" not in TypeText("{{secret:PW}}").describe()
    assert Done.terminal and Fail.terminal and not Click.terminal
