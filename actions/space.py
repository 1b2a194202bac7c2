"""The typed action space.

Every action the agent, a script or a replay can perform is one of these frozen dataclasses; there
is no string dispatch and no ``**kwargs`` bag. They cover OSWorld's ``computer_13`` space (MOVE_TO,
CLICK, MOUSE_DOWN/UP, RIGHT_CLICK, DOUBLE_CLICK, DRAG_TO, SCROLL, TYPING, PRESS, KEY_DOWN/UP, HOTKEY,
WAIT, DONE, FAIL).

Coordinates are **screen pixels** in the executor's (logical) coordinate system; mapping from a
screenshot or a model's normalized space happens before an action is built (see ``actions.coords``).
A click's optional ``target`` is the element's description (GLM-4.5V's ``element_info``, a script's
label): the safety layer reads it to decide whether a click is risky.

JSON round trip: ``action.to_json()`` gives ``{"type": "click", ...}``; ``action_from_json`` checks
every field (unknown field, wrong type, negative count, unknown key) and raises
``ActionValidationError`` with a message a model can act on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Union

from actions import secrets
from actions.errors import ActionValidationError
from actions.keys import normalize_key, parse_combo

Button = Literal["left", "right", "middle"]
BUTTONS = ("left", "right", "middle")


def _num(v: Any, name: str, *, optional: bool = False, minimum: float | None = None) -> float | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ActionValidationError(f"{name} must be a finite number, got {v!r}")
    if minimum is not None and v < minimum:
        raise ActionValidationError(f"{name} must be >= {minimum:g}, got {v!r}")
    return v


def _int(v: Any, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ActionValidationError(f"{name} must be an integer, got {v!r}")
    if v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ActionValidationError(f"{name} must be {rng}, got {v}")
    return v


def _button(v: Any) -> str:
    if v not in BUTTONS:
        raise ActionValidationError(f"button must be one of {', '.join(BUTTONS)}, got {v!r}")
    return v


def _text(v: Any, name: str, *, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise ActionValidationError(f"{name} must be a string, got {v!r}")
    return v


def _point(obj: Any, xname: str = "x", yname: str = "y", optional: bool = False) -> None:
    x, y = getattr(obj, xname), getattr(obj, yname)
    if optional and x is None and y is None:
        return
    if (x is None) != (y is None):
        raise ActionValidationError(f"{xname} and {yname} must be given together")
    _num(x, xname)
    _num(y, yname)


class Action:
    """Base of all actions. ``kind`` is the JSON ``type``."""

    kind: ClassVar[str] = ""
    #: True when the action ends the episode (done / fail).
    terminal: ClassVar[bool] = False

    def points(self) -> list[tuple[float, float]]:
        """Every screen point the action touches (for bounds checks and click markers)."""
        return []

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def describe(self) -> str:
        """Short human text for logs; never holds a secret value (placeholders stay as they are)."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_json().items() if k != "type" and v is not None)
        return secrets.mask(f"{self.kind}({args})")


@dataclass(frozen=True, slots=True)
class MoveTo(Action):
    kind: ClassVar[str] = "move"
    x: float
    y: float
    duration: float = 0.0

    def __post_init__(self) -> None:
        _point(self)
        _num(self.duration, "duration", minimum=0)

    def points(self):
        return [(self.x, self.y)]


@dataclass(frozen=True, slots=True)
class Click(Action):
    """Click ``clicks`` times (1 single, 2 double, 3 triple); without x/y at the current position."""

    kind: ClassVar[str] = "click"
    x: float | None = None
    y: float | None = None
    button: str = "left"
    clicks: int = 1
    target: str | None = None

    def __post_init__(self) -> None:
        _point(self, optional=True)
        _button(self.button)
        _int(self.clicks, "clicks", 1, 3)
        _text(self.target, "target", optional=True)

    def points(self):
        return [] if self.x is None else [(self.x, self.y)]


@dataclass(frozen=True, slots=True)
class MouseDown(Action):
    kind: ClassVar[str] = "mouse_down"
    x: float | None = None
    y: float | None = None
    button: str = "left"

    def __post_init__(self) -> None:
        _point(self, optional=True)
        _button(self.button)

    def points(self):
        return [] if self.x is None else [(self.x, self.y)]


@dataclass(frozen=True, slots=True)
class MouseUp(Action):
    kind: ClassVar[str] = "mouse_up"
    x: float | None = None
    y: float | None = None
    button: str = "left"

    def __post_init__(self) -> None:
        _point(self, optional=True)
        _button(self.button)

    def points(self):
        return [] if self.x is None else [(self.x, self.y)]


@dataclass(frozen=True, slots=True)
class Drag(Action):
    kind: ClassVar[str] = "drag"
    x1: float
    y1: float
    x2: float
    y2: float
    button: str = "left"
    duration: float = 0.3

    def __post_init__(self) -> None:
        _point(self, "x1", "y1")
        _point(self, "x2", "y2")
        _button(self.button)
        _num(self.duration, "duration", minimum=0)

    def points(self):
        return [(self.x1, self.y1), (self.x2, self.y2)]


@dataclass(frozen=True, slots=True)
class Scroll(Action):
    """Scroll by wheel clicks: ``dy > 0`` scrolls up, ``dy < 0`` down; ``dx > 0`` right, ``dx < 0`` left
    (pyautogui's and computer_13's convention). At x/y if given, else where the pointer is."""

    kind: ClassVar[str] = "scroll"
    dy: int = 0
    dx: int = 0
    x: float | None = None
    y: float | None = None

    def __post_init__(self) -> None:
        for name in ("dx", "dy"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ActionValidationError(f"{name} must be an integer number of wheel clicks, got {v!r}")
            if abs(v) > 200:
                raise ActionValidationError(f"{name} must be within -200..200 wheel clicks, got {v}")
        if self.dx == 0 and self.dy == 0:
            raise ActionValidationError("scroll needs a non-zero dx or dy")
        _point(self, optional=True)

    def points(self):
        return [] if self.x is None else [(self.x, self.y)]


@dataclass(frozen=True, slots=True)
class TypeText(Action):
    """Type ``text`` as keystrokes. ``{{secret:NAME}}`` placeholders are resolved only when typed."""

    kind: ClassVar[str] = "type"
    text: str

    def __post_init__(self) -> None:
        _text(self.text, "text")
        if not self.text:
            raise ActionValidationError("type needs a non-empty text")


@dataclass(frozen=True, slots=True)
class KeyPress(Action):
    kind: ClassVar[str] = "press"
    key: str
    presses: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", normalize_key(self.key))
        _int(self.presses, "presses", 1, 100)


@dataclass(frozen=True, slots=True)
class KeyDown(Action):
    kind: ClassVar[str] = "key_down"
    key: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", normalize_key(self.key))


@dataclass(frozen=True, slots=True)
class KeyUp(Action):
    kind: ClassVar[str] = "key_up"
    key: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", normalize_key(self.key))


@dataclass(frozen=True, slots=True)
class Hotkey(Action):
    """Press keys together, e.g. ``Hotkey(("ctrl", "c"))``; ``Hotkey.parse("ctrl+c")`` from text."""

    kind: ClassVar[str] = "hotkey"
    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.keys, str):
            keys = parse_combo(self.keys)
        elif isinstance(self.keys, (list, tuple)) and self.keys:
            keys = tuple(normalize_key(k) for k in self.keys)
        else:
            raise ActionValidationError(f"hotkey needs a non-empty list of keys, got {self.keys!r}")
        object.__setattr__(self, "keys", keys)

    @classmethod
    def parse(cls, combo: str) -> "Hotkey":
        return cls(parse_combo(combo))


@dataclass(frozen=True, slots=True)
class Wait(Action):
    kind: ClassVar[str] = "wait"
    seconds: float = 1.0

    def __post_init__(self) -> None:
        _num(self.seconds, "seconds", minimum=0)
        if self.seconds > 600:
            raise ActionValidationError(f"wait is capped at 600 s, got {self.seconds:g}")


@dataclass(frozen=True, slots=True)
class Done(Action):
    kind: ClassVar[str] = "done"
    terminal: ClassVar[bool] = True
    answer: str | None = None

    def __post_init__(self) -> None:
        _text(self.answer, "answer", optional=True)


@dataclass(frozen=True, slots=True)
class Fail(Action):
    kind: ClassVar[str] = "fail"
    terminal: ClassVar[bool] = True
    reason: str = ""

    def __post_init__(self) -> None:
        _text(self.reason, "reason")


ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls
    for cls in (MoveTo, Click, MouseDown, MouseUp, Drag, Scroll, TypeText, KeyPress, KeyDown, KeyUp,
                Hotkey, Wait, Done, Fail)
}

AnyAction = Union[MoveTo, Click, MouseDown, MouseUp, Drag, Scroll, TypeText, KeyPress, KeyDown, KeyUp,
                  Hotkey, Wait, Done, Fail]


def action_from_json(data: dict[str, Any] | str) -> Action:
    """Build an action from its JSON form, validating every field."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise ActionValidationError(f"action is not valid JSON: {e.msg} at char {e.pos}") from None
    if not isinstance(data, dict):
        raise ActionValidationError(f"action must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = ACTION_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ActionValidationError(
            f"unknown action type {kind!r}; expected one of: {', '.join(sorted(ACTION_TYPES))}")
    allowed = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    extra = sorted(set(data) - allowed - {"type"})
    if extra:
        raise ActionValidationError(
            f"{kind}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed)) or 'none'}")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    if cls is Hotkey and isinstance(kwargs.get("keys"), list):
        kwargs["keys"] = tuple(kwargs["keys"])
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ActionValidationError(f"{kind}: {e}") from None


def action_to_json(action: Action) -> dict[str, Any]:
    return action.to_json()
