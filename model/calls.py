"""Reading ``name(arg=value, ...)`` calls out of a model's free text.

Every family that answers in call syntax (GLM-4.5V, GLM-4.1V, UI-TARS, the ``generic`` family's
call answers) shares this scanner. It is linear in the length of the text, because a model can
emit tens of kilobytes of junk and the fuzz test in ``tests/test_parsers.py`` feeds it exactly
that; it never evaluates anything (no ``eval``/``ast`` of model text), and it tolerates the quoting
models really write (``type(content='it's')``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from model.family import MAX_CALLS, ParseError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Call:
    """One ``name(args)`` found in text. ``args`` maps keyword (or ``#0``, ``#1`` for positional
    arguments) to the raw value with quotes removed and escapes still in place."""

    name: str
    args: dict[str, str]
    start: int
    end: int
    text: str


def _close_quote(text: str, i: int) -> bool:
    """Is the quote at ``i`` the end of the string? Models write ``type(content='it's')``: a quote
    counts as closing only when ``,`` ``)`` or the end of text follows (spaces aside)."""
    j = i + 1
    while j < len(text) and text[j] in " \t":
        j += 1
    return j >= len(text) or text[j] in ",)\n"


def scan_call(text: str, name_start: int, name_end: int) -> Call | int | None:
    """Read the arguments of the call whose ``(`` sits at ``name_end``.

    Returns the :class:`Call`; ``None`` when the call never closes (an unterminated quote or
    bracket runs to the end of the text); or, for a malformed argument list, the index at which
    to resume scanning.
    """
    n = len(text)
    i = name_end + 1
    args: dict[str, str] = {}
    pos = 0
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return None
        if text[i] == ")":
            end = i + 1
            return Call(text[name_start:name_end], args, name_start, end, text[name_start:end])
        key = None
        m = _IDENT.match(text, i)
        if m:
            j = m.end()
            while j < n and text[j] in " \t":
                j += 1
            if j < n and text[j] == "=":
                key, i = m.group(0), j + 1
                while i < n and text[i] in " \t":
                    i += 1
        if i >= n:
            return None
        if text[i] in "'\"":
            q, j, buf = text[i], i + 1, []
            while True:
                if j >= n:
                    return None
                c = text[j]
                if c == "\\" and j + 1 < n:
                    buf.append(text[j:j + 2])
                    j += 2
                    continue
                if c == q and _close_quote(text, j):
                    break
                buf.append(c)
                j += 1
            value, i = "".join(buf), j + 1
        else:  # unquoted: a number, a word, or a bracketed point such as [1,2] or <1,2>
            depth, j = 0, i
            while j < n:
                c = text[j]
                if c in "[(<":
                    depth += 1
                elif c in "])>":
                    if depth == 0:
                        if c == ")":
                            break
                    else:
                        depth -= 1
                elif c == "," and depth == 0:
                    break
                elif c in "'\"\n":
                    return j  # a quote or line break inside an unquoted value: not a call
                j += 1
            if j >= n:
                return None
            value, i = text[i:j].strip(), j
        args[key if key is not None else f"#{pos}"] = value
        pos += 1
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return None
        if text[i] == ",":
            i += 1
        elif text[i] != ")":
            return i  # junk after a value


def find_calls(text: str, names: Sequence[str] | None, raw: str) -> tuple[list[Call], list[str]]:
    """Every ``name(...)`` in ``text`` (``names`` matched exactly, so prose such as "Type(s)" is not
    an action; ``None`` = any identifier).
    Returns the calls and the names of calls that are malformed or never close. Linear: after an
    unterminated call everything that follows is inside it, so scanning stops there."""
    if names is None:
        pat = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\(")
    else:
        alt = "|".join(sorted((re.escape(x) for x in names), key=len, reverse=True))
        pat = re.compile(rf"(?<![\w.])({alt})\(")
    calls: list[Call] = []
    broken: list[str] = []
    pos = work = 0
    while True:
        m = pat.search(text, pos)
        if not m:
            break
        c = scan_call(text, m.start(1), m.end(1))
        if c is None:
            broken.append(m.group(1))
            break
        if isinstance(c, int):  # malformed: resume right after its "(" (a real call may hide inside)
            broken.append(m.group(1))
            work += c - m.end()
            if work > 4 * len(text) + 10_000:  # adversarial input: keep the scan linear
                break
            pos = m.end()
            continue
        calls.append(c)
        if len(calls) > MAX_CALLS:
            raise ParseError("Your output contains too many action calls. Write exactly one action per step.", raw)
        pos = c.end
    return calls, broken
