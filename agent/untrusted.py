"""Showing untrusted text on the console: model output, screen and OCR text, file contents, task goals.

rich reads ``[bold]`` ... ``[/]`` in every string it prints as markup. Text the agent did not write
is data, never markup: a model thought containing ``[/b]`` must not crash a run (rich raises
``MarkupError`` after the step has acted), and ``[abc]`` must not silently vanish. Terminal control
characters (an ANSI escape in a web page's text) must not reach the terminal either.

``shown(text)`` is the one way such text goes into a rich string: secrets masked, control characters
made visible, markup escaped, optionally shortened. Our own templates keep their markup:
``console.print(f"[bold]goal:[/] {shown(goal)}")``.
"""

from __future__ import annotations

import re

from actions import secrets

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BRACKET = re.compile(r"(\\*)\[(?=([a-z#/@][^\[]*?\])?)")


def escape(s: str) -> str:
    r"""Markup-escape every ``[`` so that rich prints ``s`` exactly. rich treats backslashes before a
    *tag-like* bracket (``[b]``) in pairs (k of them print k // 2, an odd one escapes the tag), but before
    any other bracket it drops just one — and its own ``escape`` handles only the first case, so ``\[``
    lost its backslash. Trailing backslashes get a zero-width space after them, so a template's next
    tag (``[/]``) stays a tag and the backslashes stay as they are."""

    def one(m: re.Match[str]) -> str:
        k = len(m.group(1))
        return "\\" * (2 * k + 1 if m.group(2) is not None else k + 1) + "["

    s = _BRACKET.sub(one, s)
    return s + "\u200b" if s.endswith("\\") else s


def shown(text: object, limit: int | None = None) -> str:
    """``text`` safe inside a rich markup string: masked, control characters as ``\\xNN``, markup
    escaped, cut to ``limit`` characters (with an ellipsis) when given."""
    s = secrets.mask("" if text is None else str(text))
    s = _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", s)
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return escape(s)
