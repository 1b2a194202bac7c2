"""Labelling a recorded target: what the person acted on *says*, beyond its pixels. Pluggable.

A step's crop finds its target again at replay; its *text* — the words on a clicked button, the label
left of a clicked field — lets replay fall back to OCR, lets ``agent export`` write ``click: Save`` /
``into: Name``, and names typed values and secrets (``--secret FIELD``). Reading that text is the
slow part of recording (OCR of a crop and a label strip: 0.1–0.5 s on two busy cores), so it runs in
the labelling worker on the step's pinned "before" frame, never in the capture loop.

A **labeller** is any callable ``labeller(frame, point, kind, window) -> dict``:

* ``frame``: the step's "before" frame (secrets already masked), ``point``: the screen point acted on
  (None for typing and keys), ``kind``: the step kind (``click``, ``drag``, ``drag-end``,
  ``scroll``, ``type``, ``press``, ``hotkey``), ``window``: the top-level window under the point when
  the event happened (``agent.record.anchors.window_at``'s dict) or None;
* it returns anchor fields, merged into the step's anchor (steps with a point) or into
  ``step["labels"]`` (steps without one): ``text`` (words at the point), ``text_offset`` /
  ``text_size`` (the point relative to that text's centre, and its size), ``label`` (the field's
  label). A ``label`` returned for a ``type`` step names the typed-into field directly (instead of
  the last click's label) — the hook for labelling by the focused element;
* an optional attribute ``kinds`` (a set of step kinds) says which steps it wants; without it, every
  step is offered;
* it may be slow or raise: the worker gives up waiting when it falls behind (the step is written
  without the fields and with ``label_error``), and an exception never loses the step.

It runs after the event, so it sees the pinned frame, not the live desktop: a labeller that needs
live state (the focused element) must read it itself and accept that the desktop may have moved on.

``OcrLabeller`` is the default (``ocr_labeller`` builds it with rapidocr); it runs in a child
process (``agent.record.label_runner``), so a labeller given as a *factory* must be picklable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PIL import Image

from agent.record.anchors import crop_around
from agent.screen import Frame

TextLines = Callable[[Image.Image], list[tuple[str, int, int, int, int]]]


class Labeller(Protocol):
    def __call__(self, frame: Frame, point: tuple[int, int] | None, kind: str,
                 window: dict | None) -> dict: ...


def window_box(frame: Frame, window: dict | None) -> tuple[int, int, int, int] | None:
    """The window's box in frame pixels (left, top, right, bottom), or None."""
    if not window or not window.get("box"):
        return None
    wl, wt, ww, wh = window["box"]
    return wl - frame.left, wt - frame.top, wl - frame.left + ww, wt - frame.top + wh


class OcrLabeller:
    """Text at the point (the nearest line of a crop around it) and the field label left of it, read
    by ``ocr(image) -> [(text, x, y, w, h)]``. OCR errors propagate: the worker records them."""

    kinds = frozenset({"click", "drag", "drag-end", "scroll"})

    def __init__(self, ocr: TextLines) -> None:
        self.ocr = ocr

    def __call__(self, frame: Frame, point: tuple[int, int] | None, kind: str, window: dict | None) -> dict:
        if point is None:
            return {}
        x, y = point
        px, py = x - frame.left, y - frame.top
        c = crop_around(frame.image, px, py, within=window_box(frame, window))
        out: dict = {}
        box = self._nearest_text(c.image, c.offset)
        if box is not None:
            text, bx, by, bw, bh = box
            out["text"] = text
            # where the point is relative to the text's centre: replay by OCR acts there too
            out["text_offset"] = [round(c.offset[0] - bx - bw / 2, 1), round(c.offset[1] - by - bh / 2, 1)]
            out["text_size"] = [bw, bh]  # with text_offset: was the point on the text itself
        # a field's label sits left of it: read that strip (export's "into", --secret FIELD); a line on
        # the point's own row first (a neighbour's longer label or list item may reach further
        # right), then the rightmost end
        left, top = max(0, px - 320), max(0, py - 30)
        strip = frame.image.crop((left, top, max(left + 8, px - 4), min(frame.height, py + 30)))
        lines = sorted(self.ocr(strip), key=lambda b: (not b[2] <= py - top <= b[2] + b[4], -(b[1] + b[3])))
        out["label"] = lines[0][0] if lines else None
        return out

    def _nearest_text(self, img: Image.Image, point: tuple[float, float]):
        """The text line under the point, else the nearest one (a field's label beside it)."""
        px, py = point

        def dist(b):
            _, x, y, w, h = b
            return max(x - px, 0, px - x - w) ** 2 + max(y - py, 0, py - y - h) ** 2

        boxes = list(self.ocr(img))
        return min(boxes, key=dist) if boxes else None


def ocr_labeller(engine: str = "rapidocr") -> OcrLabeller:
    """The default labeller, built where it runs (the labeller process, ``agent.record.label_runner``):
    an OCR engine, its model loaded now rather than on the first click."""
    import numpy as np

    from model.ocr import get_engine

    eng = get_engine(engine)

    def read(img: Image.Image) -> list[tuple[str, int, int, int, int]]:
        return [(b.text, b.x, b.y, b.w, b.h) for b in eng.read(np.asarray(img.convert("RGB")))]

    warm = Image.new("RGB", (200, 100), "white")  # a crop's size, with text: detection *and* recognition
    from PIL import ImageDraw

    ImageDraw.Draw(warm).text((10, 40), "Warm up 0123", fill="black", font_size=18)
    read(warm)
    read(warm.crop((0, 20, 160, 80)))  # a label strip's shape too: onnxruntime is slow on new shapes
    return OcrLabeller(read)
