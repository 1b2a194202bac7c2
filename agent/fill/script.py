"""The ``agent fill`` script format: YAML steps, validated before anything is touched.

A script is a list of steps, each one mapping with exactly one action key::

    steps:
      - type: {into: "First name", text: "{first_name}"}
      - select: {field: "Country", option: "{country}"}
      - check: {label: "Subscribe to newsletter", value: "{newsletter}"}
      - click: "Save"
      - expect: "Saved: {first_name} {last_name}"

Why so strict: a form-filling run touches real applications with real data, so a typo must stop
the run *before the first click*, with the file, the line and the field (``fill.yaml:7:
steps[2].clik: unknown key``). Shorthands (``click: "Save"``, ``press: enter``) are expanded to
their full form before validation, so errors talk about one shape only. Duplicate keys (which
PyYAML silently overwrites) are errors too.

Variables (``agent.fill.variables``): ``{column}`` is the data row's value and is *required* (a
missing or empty value fails the row before it starts); ``{column?}`` is optional, and a step — of
any kind — that uses an optional value which is empty is skipped. They work in every string field
(text, target names, row, group, near, image paths). ``{{secret:NAME}}`` is left alone here; the
executor resolves it only while typing.

Resuming: ``key`` names a row's column in the results; ``already_done`` sees if an uncertain row was done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from actions.errors import ActionValidationError
from actions.keys import normalize_key, parse_combo
from agent.elements.model import ROLE_FAMILIES, ROLES
from agent.fill.variables import (FALSE, TRUE, VAR, MissingValue, as_bool, check_row as _check_row, resolve,  # noqa: F401
                                  strings, substitute)

OnError = Literal["stop", "skip_row", "retry"]
ACTIONS = ("click", "double_click", "type", "select", "choose", "check", "date", "press", "hotkey", "scroll",
           "wait_for", "expect", "if_present", "wait")


class ScriptError(ValueError):
    """The script cannot be used; ``str()`` holds ``file:line: where: what`` lines."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Target(_Strict):
    """An element on screen: its name as a person reads it (``text``; a field's label wherever the
    label sits), an image crop, or (for a VLM) a description; narrowed by ``role`` (an element role
    such as button, entry, checkbox, radio, combobox, spinbox, link, tab; or a family: field,
    clickable), ``row`` (text of its table/list row), ``group`` (its radio group's or fieldset's
    label), ``near`` (another element's name), ``nth`` (reading order among equal matches), ``window``
    (part of the window title) or ``region``. ``row`` or ``role`` alone may name a target."""

    text: Optional[str] = Field(None, alias="name")
    image: Optional[str] = None
    description: Optional[str] = None
    role: Optional[str] = None
    row: Optional[str] = None
    group: Optional[str] = None
    window: Optional[str] = None
    nth: Optional[int] = Field(None, ge=1)
    near: Optional[str] = None
    region: Optional[tuple[float, float, float, float]] = None  # left, top, width, height (screen px)

    @field_validator("role")
    @classmethod
    def _role(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and v not in ROLES and v not in ROLE_FAMILIES:
            raise ValueError(f"unknown role {v!r}; roles: {', '.join(ROLES)}; families: {', '.join(ROLE_FAMILIES)}")
        return v

    @model_validator(mode="after")
    def _something(self) -> "Target":
        if not (self.text or self.image or self.description or self.row or self.role):
            raise ValueError("a target needs text (its name), image, description, row or role")
        return self

    def label(self) -> str:
        base = self.text or self.description or (f"image {self.image}" if self.image else self.role or "element")
        ctx = "".join(f" {k}={v!r}" for k, v in (("row", self.row), ("group", self.group)) if v)
        return base + ctx


def _target(v: Any) -> Any:
    return {"text": v} if isinstance(v, str) else v


class TypeStep(_Strict):
    """Type ``text`` into the field ``into`` (clicked first), or, without ``into``, into whatever has
    keyboard focus (after a ``press: tab``, say)."""

    into: Optional[Target] = None
    text: str
    clear: Optional[bool] = None  # empty the field first; default: when the field shows a value
    enter: bool = False  # press Enter after typing (after the value was read back)

    _t = field_validator("into", mode="before")(_target)


class SelectStep(_Strict):
    """Choose ``option`` in the drop-down, combobox or autocomplete ``field``: open it and click the
    option (scrolling a long list), or type it where the field takes text; then read the field back."""

    field: Target
    option: str

    _t = field_validator("field", mode="before")(_target)


class ChooseStep(_Strict):
    """Pick the radio button ``option`` in the radio group labelled ``group``."""

    group: str
    option: str


class DateStep(_Strict):
    """Pick ``value`` (YYYY-MM-DD) in a date picker: click ``field`` to open it (if given), step to the
    month with its next / previous buttons, click the day; the chosen date must show afterwards."""

    field: Optional[Target] = None
    value: str

    _t = field_validator("field", mode="before")(_target)


class CheckStep(_Strict):
    label: Target
    value: bool | str = True  # a bool, or a "{column}" read as yes/no

    _t = field_validator("label", mode="before")(_target)


class PressStep(_Strict):
    key: str
    presses: int = Field(1, ge=1, le=50)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        try:
            return normalize_key(v)
        except ActionValidationError as e:
            raise ValueError(str(e)) from None


class ScrollStep(_Strict):
    dy: int = 0
    dx: int = 0
    at: Optional[Target] = None

    _t = field_validator("at", mode="before")(_target)


class WaitForStep(_Strict):
    text: str
    timeout: Optional[float] = Field(None, gt=0)
    gone: bool = False  # wait until the text is no longer on screen


class ExpectStep(_Strict):
    text: str
    timeout: float = Field(3.0, gt=0)


class IfPresentStep(_Strict):
    target: Target
    then: list["Step"] = Field(min_length=1)
    otherwise: list["Step"] = Field(default_factory=list, alias="else")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        if isinstance(v, dict) and "target" not in v:
            v = dict(v)
            keys = [k for k in ("text", "image", "description") if k in v]
            v["target"] = {k: v.pop(k) for k in keys} if keys else None
        return v


class Step(_Strict):
    click: Optional[Target] = None
    double_click: Optional[Target] = None
    type: Optional[TypeStep] = None
    select: Optional[SelectStep] = None
    choose: Optional[ChooseStep] = None
    check: Optional[CheckStep] = None
    date: Optional[DateStep] = None
    press: Optional[PressStep] = None
    hotkey: Optional[list[str]] = None
    scroll: Optional[ScrollStep] = None
    wait_for: Optional[WaitForStep] = None
    expect: Optional[ExpectStep] = None
    if_present: Optional[IfPresentStep] = None
    wait: Optional[float] = Field(None, gt=0, le=600)
    name: Optional[str] = None
    on_error: Optional[OnError] = None
    retries: Optional[int] = Field(None, ge=0, le=10)
    timeout: Optional[float] = Field(None, gt=0, le=600)

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError(f"a step is a mapping with one action key ({', '.join(ACTIONS)})")
        v = dict(v)
        for k in ("click", "double_click"):
            v[k] = _target(v.get(k))
        if isinstance(v.get("check"), str):
            v["check"] = {"label": v["check"]}
        if isinstance(v.get("press"), str):
            v["press"] = {"key": v["press"]}
        if isinstance(v.get("scroll"), int) and not isinstance(v.get("scroll"), bool):
            v["scroll"] = {"dy": v["scroll"]}
        for k in ("wait_for", "expect"):
            if isinstance(v.get(k), str):
                v[k] = {"text": v[k]}
        return {k: val for k, val in v.items() if val is not None}

    @field_validator("hotkey", mode="before")
    @classmethod
    def _combo(cls, v: Any) -> Any:
        try:
            return list(parse_combo(v)) if isinstance(v, str) else [normalize_key(k) for k in v]
        except (ActionValidationError, TypeError) as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _one_action(self) -> "Step":
        present = [k for k in ACTIONS if getattr(self, k) is not None]
        if len(present) != 1:
            raise ValueError(f"a step needs exactly one action key ({', '.join(ACTIONS)}); "
                             f"got {', '.join(present) or 'none'}")
        return self

    @property
    def action(self) -> str:
        return next(k for k in ACTIONS if getattr(self, k) is not None)

    def describe(self) -> str:
        if self.name:
            return self.name
        a, v = self.action, getattr(self, self.action)
        what = {"type": lambda: f"type into {v.into.label()!r}" if v.into else "type into the focused field",
                "select": lambda: f"select in {v.field.label()!r}",
                "choose": lambda: f"choose {v.option!r} in {v.group!r}",
                "check": lambda: f"check {v.label.label()!r}", "press": lambda: f"press {v.key}",
                "date": lambda: f"pick date {v.value!r}" + (f" in {v.field.label()!r}" if v.field else ""),
                "hotkey": lambda: "hotkey " + "+".join(v), "wait_for": lambda: f"wait for {v.text!r}",
                "expect": lambda: f"expect {v.text!r}", "if_present": lambda: f"if {v.target.label()!r} present",
                "scroll": lambda: f"scroll {v.dy}", "wait": lambda: f"wait {v} s"}
        return what[a]() if a in what else f"{a} {v.label()!r}"


class AlreadyDone(_Strict):
    """Is an uncertain row's effect there? A text (``"{email}"``: expect it), a target (on screen
    within the timeout: done), or steps ending in ``expect`` / ``wait_for`` (it holds: done; it
    times out: not done; an earlier step failing: undecided, the row stays uncertain)."""

    target: Optional[Target] = None
    steps: list[Step] = Field(default_factory=list, max_length=10)

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, v: Any) -> Any:
        if isinstance(v, (str, list)):
            return {"steps": [{"expect": v}] if isinstance(v, str) else v}
        return {"target": v} if isinstance(v, dict) and not ({"target", "steps"} & set(v)) else v

    @model_validator(mode="after")
    def _ends_in_expectation(self) -> "AlreadyDone":
        if (self.target is None) == (not self.steps):
            raise ValueError("already_done is a text, a target, or a list of steps ending in expect / wait_for")
        if self.steps and self.steps[-1].action not in ("expect", "wait_for"):
            raise ValueError(f"the last step of already_done must be expect or wait_for, not {self.steps[-1].action}")
        return self


class Script(_Strict):
    name: str = "fill"
    data: Optional[str] = None  # default data file, relative to the script
    key: Optional[str] = None  # the data column naming a row in the results (default: see key_column)
    already_done: Optional[AlreadyDone] = None  # on resume: is an uncertain row's effect visible?
    on_error: OnError = "stop"
    retries: int = Field(2, ge=0, le=10)
    timeout: float = Field(5.0, gt=0, le=600)  # seconds to wait for an element to appear
    reset: list[Step] = Field(default_factory=list)  # run after a failed row (e.g. click "Clear")
    steps: list[Step] = Field(min_length=1)
    path: Optional[Path] = Field(None, exclude=True)

    def variables(self) -> dict[str, bool]:
        """Every ``{column}`` the steps use -> required (False when only ever used as ``{column?}``)."""
        out: dict[str, bool] = {}
        for text in strings(self.model_dump(exclude={"path", "name", "data", "key"}, by_alias=True)):
            for name, opt in VAR.findall(text):
                out[name] = out.get(name, False) or not opt
        return out


IfPresentStep.model_rebuild()


# --- YAML with line numbers ----------------------------------------------------------------------

def _lines(node: yaml.Node, path: tuple, out: dict[tuple, int], dups: list[tuple[tuple, int]]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            if key in seen:
                dups.append((path + (key,), k.start_mark.line + 1))
            seen.add(key)
            out[path + (key,)] = k.start_mark.line + 1
            _lines(v, path + (key,), out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _lines(v, path + (i,), out, dups)


_SHORT_LOCS = {"into", "field", "label", "at", "target"}


def _where(loc: tuple) -> str:
    s = ""
    for p in loc:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _yaml_loc(loc: tuple, data: dict) -> tuple:
    """``already_done.steps[1]`` as the YAML wrote it (a bare list or target) for the line number."""
    raw = data.get("already_done")
    bare = {"steps": isinstance(raw, list), "target": isinstance(raw, dict) and "target" not in raw}
    return (loc[0], *loc[2:]) if len(loc) > 1 and loc[0] == "already_done" and bare.get(loc[1]) else loc


def parse_script(text: str, source: str = "<script>", path: Path | None = None) -> Script:
    """Parse and validate a script; ``ScriptError`` lists every problem as ``source:line: where: what``."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ScriptError(f"{source}{line}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict) or node is None:
        raise ScriptError(f"{source}:1: a script is a mapping with a 'steps' list")
    lines: dict[tuple, int] = {}
    dups: list[tuple[tuple, int]] = []
    _lines(node, (), lines, dups)
    if dups:
        raise ScriptError("\n".join(f"{source}:{ln}: {_where(p)}: duplicate key" for p, ln in dups))
    try:
        script = Script.model_validate(data)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            loc = _yaml_loc(loc, data)
            ln = _line_for(loc, lines)
            what = err["msg"]
            if err["type"] == "extra_forbidden":
                what = "unknown key"
                if len(loc) >= 3 and loc[0] in ("steps", "reset") and isinstance(loc[1], int) and len(loc) == 3:
                    what += f" (a step takes one of: {', '.join(ACTIONS)}; and name, on_error, retries, timeout)"
            msgs.append(f"{source}:{ln if ln is not None else '?'}: {_where(loc) or 'script'}: {what}")
        raise ScriptError("\n".join(dict.fromkeys(msgs))) from None
    script.path = path
    return script


def load_script(path: str | Path) -> Script:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScriptError(f"{p}: cannot read the script: {e.strerror or e}") from None
    return parse_script(text, str(p), p)


def check_row(script: Script, row: dict[str, str]) -> list[str]:
    """The required columns of ``script`` that are missing or empty in ``row``."""
    return _check_row(script.variables(), row)
