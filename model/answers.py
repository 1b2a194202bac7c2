"""Reading action objects out of a model's free text: JSON objects, tool calls and Python-style calls.

A VLM asked for "one action as a JSON object" writes it in a code fence, after "Action:", inside
``<answer>``, as a Hermes/Qwen ``<tool_call>``, as an OpenAI ``{"type": "function", ...}`` object with
``arguments`` as a JSON *string*, addressed to one tool (``{"name": "computer", "arguments": {"action":
...}}``), as AndroidWorld's ``{"action_type": ...}``, as a single-quoted Python dict, or as a call
``click(mark=3)``. :func:`actions_in` finds them all and gives each as a flat dict with ``action`` first
(the verb as written); the ``generic`` family (``model.generic``) maps verbs and arguments onto actions.

Bounded on junk: at most ``MAX_OBJECTS`` start positions are decoded (the C JSON decoder, each attempt
linear), a Python dict is at most ``PY_DICT_MAX`` characters, calls come from ``model.calls.find_calls``
(linear, fuzz-tested).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from model.calls import find_calls
from model.family import unescape

#: The verbs a model may write, mapped onto the generic family's.
VERBS = {
    "click": "click", "left_click": "click", "tap": "click", "left_single": "click",
    "double_click": "double_click", "left_double": "double_click", "left_double_click": "double_click",
    "double_tap": "double_click", "dblclick": "double_click",
    "right_click": "right_click", "right_single": "right_click", "context_click": "right_click",
    "middle_click": "middle_click",
    "hover": "hover", "move": "hover", "mouse_move": "hover", "move_to": "hover",
    "type": "type", "input_text": "type", "type_text": "type", "input": "type", "write": "type", "fill": "type",
    "select": "select", "select_option": "select", "choose": "select",
    "scroll": "scroll",
    "key": "key", "press": "key", "press_key": "key", "hotkey": "key", "keyboard_enter": "enter",
    "wait": "wait", "sleep": "wait",
    "drag": "drag", "left_drag": "drag",
    "done": "done", "finish": "done", "finished": "done", "complete": "done", "answer": "answer",
    "status": "status", "terminate": "terminate",
    "fail": "fail", "infeasible": "fail", "call_user": "fail", "give_up": "fail",
}
#: Tool names that wrap an action given in ``arguments.action``.
_WRAPPERS = ("computer", "computer_use", "mobile_use", "desktop", "gui", "browser", "act", "action")
MAX_OBJECTS = 200  # positions a scan tries to decode; keeps junk-heavy answers linear
PY_DICT_MAX = 2000


def actions_in(text: str, raw: str) -> list[tuple[int, int, dict[str, Any]]]:
    """``(start, end, action dict)`` of every action object in ``text``; Python-style calls only when
    there is no JSON action at all."""
    found = [(s, e, a) for s, e, obj in json_objects(text) if (a := as_action(obj)) is not None]
    return found or call_actions(text, raw)


def json_objects(text: str) -> list[tuple[int, int, Any]]:
    """``(start, end, value)`` of each JSON object (or single-quoted Python dict) in ``text``, left to
    right, not looking inside one already read. Bounded: at most ``MAX_OBJECTS`` start positions are
    tried, so megabytes of braces cost milliseconds, not minutes."""
    dec = json.JSONDecoder()
    out: list[tuple[int, int, Any]] = []
    pos = tries = 0
    while tries < MAX_OBJECTS:
        i = text.find("{", pos)
        if i < 0:
            break
        tries += 1
        try:
            obj, end = dec.raw_decode(text, i)
        except (ValueError, RecursionError):
            obj, end = _py_dict(text, i)
            if obj is None:
                pos = i + 1
                continue
        out.append((i, end, obj))
        pos = end
    return out


def _py_dict(text: str, start: int) -> tuple[Any, int]:
    """A single-quoted Python dict literal at ``start`` (``{'action_type': 'click', 'index': 3}``)."""
    depth = 0
    for j in range(start, min(len(text), start + PY_DICT_MAX)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                snippet = text[start:j + 1]
                if "'" not in snippet:
                    return None, start
                try:
                    return ast.literal_eval(snippet), j + 1
                except Exception:  # noqa: BLE001 - any malformed literal is just not a dict
                    return None, start
    return None, start


def as_action(obj: Any) -> dict[str, Any] | None:
    """The action an object holds, as a flat dict with ``action``; None for other JSON (a memory)."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI's {"type": "function", "function": {...}}
        obj = obj["function"]
    if isinstance(obj.get("name"), str) and "arguments" in obj:  # a tool call
        args = obj["arguments"]
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                return None
        if not isinstance(args, dict):
            return None
        name = obj["name"].strip().lower()
        if name in _WRAPPERS and isinstance(args.get("action", args.get("action_type")), str):
            return as_action(args)
        return {"action": name, **{k: v for k, v in args.items() if k != "action"}}
    for key in ("action", "action_type"):
        if isinstance(obj.get(key), str):
            return {"action": obj[key], **{k: v for k, v in obj.items() if k not in ("action", "action_type")}}
        if isinstance(obj.get(key), dict):  # {"action": {"type": "click", ...}}
            inner = obj[key]
            verb = inner.get("type", inner.get("name"))
            if isinstance(verb, str):
                return {"action": verb, **{k: v for k, v in inner.items() if k not in ("type", "name")}}
    return None


_CALL_NAMES = tuple(VERBS)


def call_actions(text: str, raw: str) -> list[tuple[int, int, dict[str, Any]]]:
    """Python-style calls ``click(mark=3)`` as action dicts (positional arguments read by verb)."""
    calls, _ = find_calls(text, _CALL_NAMES, raw)
    out = []
    for c in calls:
        args: dict[str, Any] = {k: _value(v) for k, v in c.args.items() if not k.startswith("#")}
        pos = [_value(v) for k, v in sorted(c.args.items()) if k.startswith("#")]
        kind = VERBS.get(c.name.lower())
        if pos:
            if kind in ("type", "select"):
                names = ["mark", "text" if kind == "type" else "option"] if len(pos) > 1 else \
                    ["text" if kind == "type" else "option"]
            elif kind == "key":
                names = ["keys"]
            elif kind in ("done", "answer"):
                names = ["answer"]
            elif kind == "fail":
                names = ["reason"]
            elif kind == "scroll":
                names = ["direction"] if len(pos) == 1 else ["mark", "direction"]
            else:
                names = ["mark"] if len(pos) == 1 else ["x", "y"]
            for n, v in zip(names, pos):
                args.setdefault(n, v)
        out.append((c.start, c.end, {"action": c.name, **args}))
    return out


def _value(v: str) -> Any:
    s = v.strip()
    if re.fullmatch(r"-?\d{1,9}", s):
        return int(s)
    if re.fullmatch(r"-?\d{1,9}\.\d{1,9}", s):
        return float(s)
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    return unescape(s)
