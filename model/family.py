"""Model families: how one kind of model is prompted and how its answers become typed actions.

A *backend* (``model.base.Model``) only moves messages and completions; a *family* knows the
model's own prompt and action syntax. GLM-4.5V answers ``left_click(start_box='[x,y]')`` in
thousandths of the screenshot; UI-TARS-1.5 / Qwen2.5-VL answers ``click(start_box='(x,y)')`` in
pixels of an image it resized itself; GLM-4.1V has its own prompt and GLM-4.5V's answers; the
``generic`` family reads JSON or tool-call answers from any other VLM. All end up as the same
``actions.space`` objects in *screen* coordinates (or, naming a listed element, a
``model.marks.ElementAction``), so the agent loop never sees model syntax.

Two rules shape this module:

* ``parse`` raises :class:`ParseError` and nothing else. A model's malformed answer is data, not
  a crash: the loop hands the error's message back to the model (it is written *for* the model:
  what was wrong and the expected format) and asks again.
* The shared helpers here (coordinate boxes, numbers) and in ``model.calls`` (call scanning,
  quoted strings) are linear in the length of the text, because a model can emit tens of
  kilobytes of junk, and the fuzz test in ``tests/test_parsers.py`` feeds them exactly that.

The registry that maps a name to a family is ``model.families``. ``model/`` may import ``actions/`` but
never ``agent/`` or ``tasks/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from PIL import Image

from actions.coords import ImageMap
from actions.space import Action, Click
from model.base import Completion, ImagePart, Message

if TYPE_CHECKING:
    from model.marks import ElementAction, ElementList

#: Longest completion a parser will read. A real answer (max_tokens 8192) is far below this; the
#: cap keeps a runaway generation from costing seconds of regex time.
MAX_TEXT = 200_000
#: Most calls a parser will consider in one answer before giving up.
MAX_CALLS = 64


@dataclass(frozen=True)
class HistoryEntry:
    """One earlier step as the prompt shows it.

    ``action_text`` is the action as the model wrote it (box tokens stripped) or as
    ``ModelFamily.action_text`` rendered it; ``feedback`` is an error to tell the model about that
    step (a parse error, "point outside the screen", "screen did not change"); ``memory`` is the
    ``Memory:`` block of that answer (GLM-4.5V carries only the latest one forward).
    """

    thought: str | None
    action_text: str | None
    image: ImagePart | None
    feedback: str | None = None
    memory: str | None = None


@dataclass(frozen=True)
class ParsedStep:
    """A parsed answer. ``action`` is already in SCREEN coordinates (mapped through the ImageMap).

    ``element`` is set when the answer named a listed element (``model.marks``): ``action`` is then the
    first of ``element.actions()`` and ``agent.observe.act`` performs the rest (the text typed into it,
    the option chosen in it)."""

    action: Action
    thought: str | None
    action_text: str
    memory: str | None
    reasoning: str | None
    element: ElementAction | None = None


class ParseError(ValueError):
    """The model's answer could not be turned into one action.

    ``str(err)`` is written for the model (what was wrong and the expected format); ``raw`` holds
    the text that was parsed. ``internal`` is set only when a parser bug (not the model) caused
    it; tests assert it stays ``None``.
    """

    def __init__(self, message: str, raw: str = "", internal: BaseException | None = None):
        super().__init__(message)
        self.raw = raw
        self.internal = internal


class ModelFamily(Protocol):
    """``elements`` is the list of screen elements shown beside the screenshot (``--observe
    screenshot+elements`` / ``som``), or None for the plain screenshot; a family that gets one renders
    it in its prompt and accepts references to its elements in the answer."""

    name: str

    def build_messages(self, goal: str, screenshot: ImagePart, history: Sequence[HistoryEntry], *,
                       feedback: str | None = None, elements: ElementList | None = None) -> list[Message]: ...

    def parse(self, completion: Completion, image_map: ImageMap, *,
              elements: ElementList | None = None) -> ParsedStep: ...

    def action_text(self, action: Action, image_map: ImageMap) -> str: ...


# --- shared text helpers ----------------------------------------------------------------------

def half_size(img: ImagePart) -> ImagePart:
    """The image at 50% x 50%, re-encoded in its own format (GLM-V's ``build_history_images``
    shrinks history screenshots this way; it always writes PNG, we keep the caller's format).

    Made once per image and kept in ``img.memo``: the same history screenshot goes into up to four
    prompts. When ``prefetch_half_size`` started it in the background, this waits for that."""
    got = img.memo.get("half")
    if got is None:
        got = _half(img)
    elif isinstance(got, Future):
        got = got.result()
    img.memo["half"] = got
    return got


def prefetch_half_size(img: ImagePart, submit: Callable[..., Future], source: Image.Image | None = None) -> None:
    """Start making ``half_size(img)`` with ``submit`` (a thread pool's), unless it is made or under way.
    ``source`` is the image ``img`` was encoded from: for PNG (lossless) shrinking it gives the same
    pixels as shrinking the decoded bytes, without the decode."""
    if "half" not in img.memo:
        img.memo["half"] = submit(_half, img, source if img.mime == "image/png" else None)


def _half(img: ImagePart, source: Image.Image | None = None) -> ImagePart:
    same = source is not None and source.mode == "RGB" and source.size == (img.width, img.height)
    pil = source if same else img.to_pil()
    small = pil.resize((max(1, pil.width // 2), max(1, pil.height // 2)), Image.Resampling.BILINEAR)
    return ImagePart.from_image(small, "jpeg" if img.mime == "image/jpeg" else "png")


def split_think(text: str, reasoning: str | None, raw: str) -> tuple[str, str | None]:
    """Split ``<think>…</think>`` off. Returns (answer text, reasoning). A think block that never
    closes means the model ran out of tokens while thinking: there is no action to read."""
    think = None
    if "</think>" in text:
        head, _, text = text.partition("</think>")
        think = head.replace("<think>", "", 1).strip()
    elif "<think>" in text:
        raise ParseError("Your output ended inside <think> without an action. Think briefly, close "
                         "</think>, then write exactly one action.", raw)
    if "<answer>" in text:
        text = text.split("<answer>", 1)[1]
        text = text.split("</answer>", 1)[0]
    text = text.replace("</answer>", "")
    if reasoning is None and think:
        reasoning = think
    return text, reasoning


_UNESCAPES = {"n": "\n", "t": "\t", "r": "\r", "'": "'", '"': '"', "\\": "\\"}


def unescape(s: str) -> str:
    """Undo the escapes the prompts ask for in typed text: ``\\n`` ``\\t`` ``\\'`` ``\\"`` ``\\\\``
    (UI-TARS's parser reads content as a Python string literal; this is the same for these
    escapes and leaves any other backslash as written)."""
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), m.group(0)), s, flags=re.DOTALL)


def escape(s: str) -> str:
    """The inverse of :func:`unescape`, for rendering typed text inside ``'...'``."""
    return (s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r"))


_NUM = re.compile(r"-?\d{1,9}(?:\.\d{1,9})?")
_BOX_TOKENS = re.compile(r"<\|begin_of_box\|>|<\|end_of_box\|>|<\|box_start\|>|<\|box_end\|>|</?point>|</?bbox>")


def read_point(value: str, what: str, example: str, raw: str,
               limit: tuple[float, float], range_msg: str) -> tuple[float, float]:
    """``[x,y]``, ``[[x,y]]``, ``(x,y)``, ``<x,y>``, ``x y`` or a box ``[x1,y1,x2,y2]`` (its centre)
    -> (x, y) in the model's own units. Every number (a box's corners too) must lie in
    0..limit[0] for x and 0..limit[1] for y, else ``ParseError(range_msg)``."""
    # No single regex here: "1 2<100k spaces>x" made one backtrack for minutes.
    parts = re.split(r"[\s,\[\]()<>]+", _BOX_TOKENS.sub(" ", value[:300])) if len(value) <= 300 else []
    parts = [p for p in parts if p]
    if len(parts) not in (2, 4) or not all(_NUM.fullmatch(p) for p in parts):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ParseError(f"{what} {shown!r} is not a point: write it as {example}.", raw)
    nums = [float(p) for p in parts]
    if not all(0 <= v <= limit[i % 2] for i, v in enumerate(nums)):
        shown = ",".join(f"{v:g}" for v in nums)
        raise ParseError(f"{what} [{shown}] is out of range: {range_msg}", raw)
    if len(nums) == 4:
        return (nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2
    return nums[0], nums[1]


def read_int(value: str, what: str, raw: str) -> int:
    v = value.strip().strip("'\"")
    if not re.fullmatch(r"\d{1,4}", v):
        raise ParseError(f"{what} must be a whole number, got {value[:40]!r}.", raw)
    return int(v)


BEGIN_BOX, END_BOX = "<|begin_of_box|>", "<|end_of_box|>"


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, inner)`` of each ``<|begin_of_box|>…<|end_of_box|>``, like a non-greedy regex
    but linear (a regex restarts at every unmatched begin token and goes quadratic)."""
    out, pos = [], 0
    while True:
        b = text.find(BEGIN_BOX, pos)
        if b < 0:
            return out
        e = text.find(END_BOX, b + len(BEGIN_BOX))
        if e < 0:
            return out
        out.append((b, e + len(END_BOX), text[b + len(BEGIN_BOX):e]))
        pos = e + len(END_BOX)


def same_action(a: Action, b: Action) -> bool:
    """Equal as actions to perform: a click's ``target`` (a description) does not make it different."""
    if isinstance(a, Click) and isinstance(b, Click):
        return replace(a, target=None) == replace(b, target=None)
    return a == b


def strip_box_tokens(s: str) -> str:
    return _BOX_TOKENS.sub("", s)


def check_size(text: str) -> None:
    if len(text) > MAX_TEXT:
        raise ParseError(f"Your output is {len(text)} characters long; keep it short and end with "
                         "exactly one action.", text[:1000])


__all__ = [
    "HistoryEntry", "ParsedStep", "ParseError", "ModelFamily", "half_size", "prefetch_half_size",
    "split_think", "unescape", "escape", "read_point", "read_int", "strip_box_tokens", "find_boxes",
    "same_action", "check_size", "guarded_parse", "key_action", "type_action", "MAX_TEXT", "MAX_CALLS",
]


def guarded_parse(parse_raw, completion: Completion, image_map: ImageMap, hint: str) -> ParsedStep:
    """Run a family's ``parse_raw(text, reasoning, image_map)`` so that only ``ParseError`` escapes: a
    parser bug must not end the run; the model is asked again (and ``ParseError.internal`` keeps it)."""
    raw = completion.text if isinstance(completion.text, str) else ""
    try:
        return parse_raw(raw, completion.reasoning, image_map)
    except ParseError:
        raise
    except Exception as e:
        raise ParseError(f"Your output could not be read. {hint}", raw, internal=e) from e


def key_action(keys: str) -> Action:
    """A key combination as the models write it ("ctrl+c", "ctrl c", "enter"): one key is a press."""
    from actions.keys import parse_combo
    from actions.space import Hotkey, KeyPress

    combo = parse_combo(unescape(keys))
    return KeyPress(combo[0]) if len(combo) == 1 else Hotkey(combo)


def type_action(content: str | None, raw: str) -> Action:
    """``type(content='...')`` in both families: escapes undone, empty content is the model's error."""
    from actions.space import TypeText

    if not content:
        raise ParseError("type needs non-empty content='...'; escape a quote as \\' and a new "
                         "line as \\n.", raw)
    return TypeText(unescape(content))
