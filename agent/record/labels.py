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

It runs after the event, so it sees the pinned frame, not the live desktop. A labeller with
``context = True`` gets a fifth argument, a dict: ``tree`` / ``windows`` (the accessibility snapshot
read while the "before" frame was on screen, ``agent.record.watch``; None without one), ``after``
(the frame once the step was complete) and ``after_tree`` / ``after_windows``. Besides anchor fields
it may return ``element`` (the target's locator, ``agent.record.locators``), ``focus`` (the element
typed into), ``effect`` (what the step changed) and ``picked`` (the option a keyboard step chose in a
drop-down); the worker files the last three on the step.
``tree_frame`` is set when the tree was read for an older picture than the step's (the person was
quicker than the read): the target is then kept only where both pictures agree, and no effect is
derived from it.

``StepLabeller`` is the default (``step_labeller`` builds it: OCR text anchors with rapidocr, and the
screen element model — the recorded tree merged with the visual parse of windows without one); it
runs in a child process (``agent.record.label_runner``), so a labeller given as a *factory* must be
picklable. ``OcrLabeller`` is its text part alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from PIL import Image

from agent.elements.ground import contains_words, name_score
from agent.elements.model import TEXT_INPUTS
from agent.record.anchors import crop_around
from agent.record.locators import element_locator, focused_locator, picks, same_in, step_effect, target_at
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
    """The OCR text labeller alone (``step_labeller`` is the recorder's default), built where it runs
    (the labeller process, ``agent.record.label_runner``): its model loaded now, not on the first click."""
    import numpy as np

    from model.ocr import get_engine

    eng = get_engine(engine)

    def read(img: Image.Image) -> list[tuple[str, int, int, int, int]]:
        return [(b.text, b.x, b.y, b.w, b.h) for b in eng.read(np.asarray(img.convert("RGB")))]

    _warm(read)
    return OcrLabeller(read)


def _warm(read: TextLines) -> None:
    """Load the OCR model now rather than on the first click."""
    from PIL import ImageDraw

    warm = Image.new("RGB", (200, 100), "white")  # a crop's size, with text: detection *and* recognition
    ImageDraw.Draw(warm).text((10, 40), "Warm up 0123", fill="black", font_size=18)
    read(warm)
    read(warm.crop((0, 20, 160, 80)))  # a label strip's shape too: onnxruntime is slow on new shapes


def same_pixels(a: Frame, b: Frame, box) -> bool:  # noqa: ANN001 - a Rect in screen coordinates
    """Do two frames show the same pixels inside ``box`` (a target's bounds, with a margin)?"""
    import numpy as np

    if a.image.size != b.image.size or (a.left, a.top) != (b.left, b.top):
        return False
    l, t = max(0, int(box.left - a.left) - 2), max(0, int(box.top - a.top) - 2)
    r, btm = min(a.width, int(box.right - a.left) + 2), min(a.height, int(box.bottom - a.top) + 2)
    if r <= l or btm <= t:
        return False
    pa = np.asarray(a.image.crop((l, t, r, btm)).convert("L"), dtype=np.int16)
    pb = np.asarray(b.image.crop((l, t, r, btm)).convert("L"), dtype=np.int16)
    return float((np.abs(pa - pb) > 12).mean()) < 0.02


def shown_text(frame: Frame, e, recognize) -> str | None:  # noqa: ANN001 - an Element, an OCR recogniser
    """The text drawn inside a one-line element's bounds (recognition only, ~20 ms), or None when
    it is no single line or nothing readable is there (an icon, a tick box)."""
    import numpy as np

    b = e.bounds
    if recognize is None or not (8 <= b.height <= 64 and 12 <= b.width <= 700):
        return None
    box = (int(b.left - frame.left), int(b.top - frame.top), int(b.right - frame.left), int(b.bottom - frame.top))
    text, conf = recognize([np.asarray(frame.image.crop(box).convert("RGB"))])[0]
    return text if conf >= 0.6 and len(text.strip()) >= 2 else None


def contradicted(e, text: str | None) -> str | None:  # noqa: ANN001 - an Element
    """Why the element the tree names disagrees with the text the screen shows in it (an
    accessibility tree that lagged the screen), or None. Not for a field (its name is a label outside
    it, its text is what was typed)."""
    if e.role in TEXT_INPUTS or not e.name or not text:
        return None
    if name_score(text, e.name) >= 0.8 or contains_words(e.name, text) or contains_words(text, e.name):
        return None
    return f"the tree named {e.label()} where the screen reads {text!r}: not kept"


class FrozenTree:
    """An accessibility source for ``ElementModeler`` that answers with a snapshot read earlier (the
    recorder's watcher read it while the frame was on screen)."""

    last_notes: list[str] = []

    def __init__(self, elements, windows) -> None:  # noqa: ANN001 - Element tuples, window tuples
        self.elements, self.windows = tuple(elements), list(windows or [])

    def snapshot(self, area=None) -> list:  # noqa: ANN001 - the live source's signature
        return list(self.elements)

    def x_windows(self) -> list:
        return self.windows


class StepLabeller:
    """The element model's view of a step — the target's locator, the focused element of a keyboard
    step, the step's effect (before vs after) — plus OCR text anchors (``OcrLabeller``) where the
    accessibility tree did not name the target (the OCR of a crop is most of a step's labelling time:
    0.1–3 s on two busy cores). A target the tree named is checked against the text drawn in it
    (``recognize``: one line, recognition only) and dropped when they disagree."""

    context = True

    def __init__(self, ocr: TextLines | None = None, *, visual=None, recognize=None) -> None:  # noqa: ANN001
        self.text = OcrLabeller(ocr) if ocr is not None else None
        self.visual = visual  # a VisualSource, for windows without a tree
        self.recognize = recognize  # crops -> [(text, confidence)]

    def model(self, frame: Frame | None, tree, windows):  # noqa: ANN001, ANN201 - a ScreenModel or None
        if frame is None or (tree is None and self.visual is None):
            return None
        from agent.elements.snapshot import ElementModeler

        a11y = FrozenTree(tree, windows) if tree is not None else None
        return ElementModeler(a11y=a11y, visual=self.visual).snapshot(frame)

    def __call__(self, frame: Frame, point: tuple[int, int] | None, kind: str, window: dict | None,
                 context: dict | None = None) -> dict:
        out: dict = {}
        ctx = context or {}
        t0 = time.perf_counter()
        before = self.model(frame, ctx.get("tree"), ctx.get("windows"))
        t1 = time.perf_counter()
        stale = ctx.get("tree_frame")
        e = target_at(before, *point) if before is not None and point is not None else None
        why = None
        if e is not None and e.source != "visual" and e.role not in TEXT_INPUTS:
            if stale is not None and not same_pixels(frame, stale, e.bounds):
                why = f"no accessibility read of this screen; the last one named {e.label()} there, which has changed since"
            else:
                why = contradicted(e, shown_text(frame, e, self.recognize))
        if self.text is not None and kind in OcrLabeller.kinds and (e is None or e.source == "visual" or why):
            out.update(self.text(frame, point, kind, window))
        out["parts_s"] = {"model": round(t1 - t0, 3), "ocr": round(time.perf_counter() - t1, 3)}
        if before is None:
            return out
        if point is not None:
            if why:
                out["element_error"] = why
            elif e is not None:
                out["element"] = element_locator(before, e, point)
        elif kind in ("type", "press", "hotkey") and stale is None:  # focus moves without a trace in pixels
            focus = focused_locator(before)
            if focus is not None:
                out["focus"] = focus
                if kind == "type" and focus.get("name"):
                    out["label"] = focus["name"]
        trees = (ctx.get("tree") is not None, ctx.get("after_tree") is not None)
        if stale is not None or trees[0] != trees[1]:
            return out  # an effect only between two screens read the same way, each when it showed
        t2 = time.perf_counter()
        after = self.model(ctx.get("after"), ctx.get("after_tree"), ctx.get("after_windows"))
        out["parts_s"]["after"] = round(time.perf_counter() - t2, 3)
        if after is not None and kind in ("type", "press"):  # keys that picked an option of a drop-down
            for d in (e for e in before if picks(e)):
                now = same_in(after, {"path": d.path, "role": d.role, "name": d.name})
                if now is not None and now.value and now.value != d.value:
                    out["picked"] = {"field": d.name, "value": now.value}
        if after is not None:
            eff = step_effect(before, after)
            if eff:
                out["effect"] = eff
        return out


def step_labeller(ocr: bool = True, elements: bool = True, engine: str = "rapidocr") -> StepLabeller:
    """The recorder's labeller, built in the labeller process: OCR text anchors (``ocr``) and the
    element model (``elements``; its visual parse needs OCR too, the accessibility tree does not)."""
    if not ocr:
        return StepLabeller()
    import numpy as np

    from model.ocr import RapidOcrEngine, get_engine

    eng = RapidOcrEngine(threads=1) if engine == "rapidocr" else get_engine(engine)  # one thread: two shared cores

    def read(img: Image.Image) -> list[tuple[str, int, int, int, int]]:
        return [(b.text, b.x, b.y, b.w, b.h) for b in eng.read(np.asarray(img.convert("RGB")))]

    _warm(read)
    visual = recognize = None
    if elements and isinstance(eng, RapidOcrEngine):
        from agent.elements.visual import VisualSource

        visual, recognize = VisualSource(eng), eng.recognize
    return StepLabeller(read, visual=visual, recognize=recognize)
