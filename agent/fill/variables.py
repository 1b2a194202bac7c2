"""Data-row variables in fill scripts: ``{column}`` (required) and ``{column?}`` (optional).

Why one place: a script may put a variable in *any* string of a step — the typed text, a target's
name, its ``row`` or ``group``, an image path, a ``near`` anchor — and every one of them must be
substituted the same way, with the same rule for empty values. ``resolve`` does that for a whole
step before it runs, so the code that acts never sees a ``{placeholder}``:

* a required value that is empty is a ``MissingValue`` (the row fails before anything is typed;
  ``check_row`` finds those up front);
* a step that uses an optional value which is empty in this row is **skipped**, whatever kind of
  step it is (``resolve`` returns None);
* ``{{secret:NAME}}`` is left alone here; the executor resolves it only while typing.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

VAR = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(\??)\}(?!\})")

M = TypeVar("M", bound=BaseModel)


class MissingValue(ValueError):
    """A data row lacks a value a step requires."""


def substitute(text: str, row: dict[str, str]) -> tuple[str, bool]:
    """``text`` with ``{column}`` replaced; the flag is True when an optional value was empty."""
    empty_optional = False

    def repl(m: re.Match[str]) -> str:
        nonlocal empty_optional
        name, opt = m.group(1), m.group(2)
        val = (row.get(name) or "").strip()
        if not val:
            if not opt:
                raise MissingValue(f"required value {name!r} is empty in this row")
            empty_optional = True
        return val

    return VAR.sub(repl, text), empty_optional


def strings(obj: Any):
    """Every string inside a dumped model (dicts, lists, tuples), depth first."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from strings(v)


#: Nested step lists that are resolved when they run, not with the step that holds them.
_NESTED = ("then", "else", "otherwise")


def resolve(step: M, row: dict[str, str]) -> M | None:
    """``step`` with every ``{column}`` in every string field substituted from ``row``, or None
    when the step uses an optional value that is empty in this row (the step is skipped). The steps
    of an ``if_present`` are left for when they run."""
    empty = changed = False

    def walk(obj: Any) -> Any:
        nonlocal empty, changed
        if isinstance(obj, str):
            text, e = substitute(obj, row)
            empty, changed = empty or e, changed or text != obj
            return text
        if isinstance(obj, dict):
            return {k: (v if k in _NESTED else walk(v)) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(walk(v) for v in obj)
        return obj

    out = walk(step.model_dump(by_alias=True, exclude_none=True))
    if empty:
        return None
    return type(step).model_validate(out) if changed else step


def check_row(variables: dict[str, bool], row: dict[str, str]) -> list[str]:
    """The required columns (``variables``: name -> required) that are missing or empty in ``row``."""
    return [n for n, req in variables.items() if req and not (row.get(n) or "").strip()]


TRUE = {"1", "true", "yes", "y", "x", "on", "checked"}
FALSE = {"", "0", "false", "no", "n", "off", "unchecked"}


def as_bool(v: bool | str) -> bool:
    if isinstance(v, bool):
        return v
    s = v.strip().lower()
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise MissingValue(f"{v!r} is not a yes/no value (use one of: {', '.join(sorted(TRUE | FALSE - {''}))})")
