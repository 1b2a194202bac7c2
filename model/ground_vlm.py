"""VLM grounding: the same ``locate(shot, query)`` over a model backend (GLM-4.5V boxes).

GLM-4.5V answers grounding questions with a box ``[x1,y1,x2,y2]`` in thousandths (0-999) of the
image as sent, inside ``<|begin_of_box|>…<|end_of_box|>`` (zai-org/GLM-V's grounding examples). The
box maps to the screen through the shot's ``ImageMap``, so a downscaled screenshot or a monitor at
an offset needs nothing special.

Used when ``--model-url/--model`` is given, on its own or behind the offline grounders in a
``ChainGrounder`` (offline first: it is free and fast; the model answers what OCR cannot: "the
blue gear icon", a field whose label is an image). A model that says it cannot see the element, or
answers without a usable box, is an ``ElementNotFound``; a server that cannot be reached is the
backend's own ``ModelError`` (a person must act). A VLM gives no calibrated confidence, so its
matches carry a fixed score.
"""

from __future__ import annotations

import re

from actions.coords import Rect
from model.base import GenerationConfig, ImagePart, Message, Model, TextPart
from model.family import ParseError, find_boxes, split_think
from model.grounding import ElementNotFound, Match, Query, Shot

PROMPT = ("Locate {what} in this screenshot. Answer with its bounding box as [x1,y1,x2,y2] in "
          "thousandths (0-999) of the image width and height, inside <|begin_of_box|> and <|end_of_box|>. "
          "If it is not visible, answer NOT_FOUND.")
_NUM = re.compile(r"-?\d+(?:\.\d+)?")
SCORE = 0.85


def describe(query: Query) -> str:
    """The element in words, for the model."""
    if query.description:
        return query.description
    what = f"the text input field labelled {query.text!r}" if query.role == "field" else f"the UI element showing the text {query.text!r}"
    if query.near:
        what += f", the one nearest to {query.near!r}"
    if query.nth:
        what += f", the number {query.nth} of them in reading order"
    return what


def parse_box(text: str) -> tuple[float, float, float, float] | None:
    """The first box of four numbers in thousandths, or None. A point ([x,y]) becomes a 1-unit box."""
    spans = [inner for _, _, inner in find_boxes(text)] or [text]
    for s in spans:
        nums = [float(n) for n in _NUM.findall(s)[:4]]
        if len(nums) == 4:
            x1, y1, x2, y2 = nums
            if x2 < x1:
                x1, x2 = x2, x1
            if y2 < y1:
                y1, y2 = y2, y1
            if all(0 <= v <= 1000 for v in nums):
                return x1, y1, x2, y2
        elif len(nums) == 2 and all(0 <= v <= 1000 for v in nums):
            return nums[0], nums[1], nums[0] + 1, nums[1] + 1
    return None


class VlmGrounder:
    """Grounding by a vision-language model. ``image_format`` jpeg halves the upload for big screens."""

    def __init__(self, model: Model, *, image_format: str = "png", max_tokens: int = 256) -> None:
        self.model = model
        self.name = f"vlm:{getattr(model, 'name', 'model')}"
        self.image_format = image_format
        self.config = GenerationConfig(max_tokens=max_tokens, enable_thinking=False)

    def locate(self, shot: Shot, query: Query) -> Match:
        img = shot.image
        if query.region is not None:  # tell the model only about the region: crop the shot
            (x0, y0), (x1, y1) = (shot.map.screen_to_image(query.region.left, query.region.top),
                                  shot.map.screen_to_image(query.region.right, query.region.bottom))
            box = (max(0, int(x0)), max(0, int(y0)), min(img.width, int(x1)), min(img.height, int(y1)))
            img = img.crop(box)
            sx, sy = shot.map.image_to_screen(box[0], box[1])
            shot = Shot(img, type(shot.map)(Rect(sx, sy, img.width * shot.map.sx, img.height * shot.map.sy),
                                            img.width, img.height))
        msg = Message("user", (ImagePart.from_image(img, self.image_format),
                               TextPart(PROMPT.format(what=describe(query)))))
        completion = self.model.generate([msg], self.config)
        try:
            answer, _ = split_think(completion.text, completion.reasoning, completion.text)
        except ParseError:
            answer = ""
        nb = parse_box(answer) if "NOT_FOUND" not in answer.upper() else None
        if nb is None:
            raise ElementNotFound(query, detail=f" ({self.name} answered {answer.strip()[:120]!r})")
        x1, y1 = shot.map.normalized_to_screen(nb[0], nb[1])
        x2, y2 = shot.map.normalized_to_screen(nb[2], nb[3])
        return Match(Rect(x1, y1, max(1.0, x2 - x1), max(1.0, y2 - y1)), SCORE, self.name, query.label())
