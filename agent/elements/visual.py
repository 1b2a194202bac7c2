"""The visual element source: a screenshot in, ``Element`` s out, for apps with no accessibility tree.

``VisualSource().snapshot(frame)`` finds the controls and text lines with OpenCV
(``agent.elements.detect``), reads each text line with the OCR recognizer only (no OCR text
detection pass: the lines are already found), and names, groups and rows them by geometry
(``agent.elements.roles``, ``agent.elements.labels``). Elements carry ``source="visual"`` and
screen coordinates.

Why it stays fast when called again: a form being filled changes a few hundred pixels per step.
Every line's pixels (its crop, with the background around its letters made uniform and any caret
painted out) are hashed, and a line whose pixels were read before is not read again — whether it
moved, the window was resized or nothing happened. When the pixels that changed lie inside boxes and
hold no new box (typing, a tick, a caret), the box pass — the costliest part of detection — is
skipped too and the previous boxes are reused (``boxes_still_hold`` below); everything else is
recomputed from the new pixels. So an incremental snapshot is *the same function* of the frame as a
cold one: same elements, less work. An unchanged frame returns the previous elements outright.

``area`` (screen coordinates) restricts the parse to a window or region; by default the content box
of the frame (everything that differs from the bare desktop around the windows) is parsed.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

import cv2
import numpy as np

from actions.coords import Rect
from agent.elements.labels import frame_titles, group_radios, label_fields, name_indicators, table_rows
from agent.elements.roles import Control, Text, classify, fill_values, focus, heading_test
from agent.elements.detect import Layout, Line, Structure, detect
from agent.elements.model import Element, ScreenModel, clean_text, sort_elements
from agent.elements.regions import INDICATOR_SIZES, Box, find_regions, maxdiff
from model.ocr import RapidOcrEngine, content_box

#: Internal control states that are not element states.
_INTERNAL = {"disabled", "placeholder"}


def line_crop(rgb: np.ndarray, line: Line, carets: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The line's pixels on a margin of its own background (what the recognizer reads best), with
    anything outside its tight box — a border, the next cell — and any caret inside it painted out."""
    # a third of the height above and below, less at the sides of a long line: the recognizer scales
    # every crop to 48 px high, so side margins cost width (time); a word of two or three letters
    # keeps wide ones, without which it reads "1C" as "10"
    pv = max(2, round(0.35 * line.h))
    ph = max(2, round((0.35 if line.w < 4 * line.h else 0.15) * line.h))
    out = np.empty((line.h + 2 * pv, line.w + 2 * ph, 3), np.uint8)
    out[:, :] = np.array(line.bg, np.uint8)
    out[pv:pv + line.h, ph:ph + line.w] = rgb[line.y:line.y + line.h, line.x:line.x + line.w]
    for x, y, w, h in carets:
        x0, y0 = max(x, line.x), max(y, line.y)
        x1, y1 = min(x + w, line.x + line.w), min(y + h, line.y + line.h)
        if x0 < x1 and y0 < y1:
            out[pv + y0 - line.y:pv + y1 - line.y, ph + x0 - line.x:ph + x1 - line.x] = line.bg
    return out


# incremental: may the previous frame's boxes be kept? ---------------------------------------------

def significant(b: Box) -> bool:
    """A box that can be (part of) a control: not a letter's hole."""
    lo, hi = INDICATOR_SIZES
    return (b.w >= 16 and b.h >= 10) or (lo <= b.w <= hi and lo <= b.h <= hi)


def _meets(r: tuple[int, int, int, int], x: int, y: int, w: int, h: int) -> bool:
    return r[0] < x + w and x < r[0] + r[2] and r[1] < y + h and y < r[1] + r[3]


def _within(r: tuple[int, int, int, int], x: int, y: int, w: int, h: int) -> bool:
    return x <= r[0] and y <= r[1] and r[0] + r[2] <= x + w and r[1] + r[3] <= y + h


def _changes(before: np.ndarray, after: np.ndarray) -> tuple[list[tuple], list[tuple]]:
    """The changed pixels: their exact pieces (x, y, w, h), and the areas that group them (pieces
    within a few pixels of each other, as the letters of a typed word)."""
    mask = (maxdiff(before, after) > 0).astype(np.uint8)
    pts = cv2.findNonZero(mask)
    if pts is None:
        return [], []
    x, y, w, h = cv2.boundingRect(pts)  # label only around the changes (usually a field or two)
    H, W = mask.shape
    x0, y0, x1, y1 = max(0, x - 6), max(0, y - 6), min(W, x + w + 6), min(H, y + h + 6)
    diff = mask[y0:y1, x0:x1]
    n, _, st, _ = cv2.connectedComponentsWithStats(diff, connectivity=8)
    pieces = [(int(a) + x0, int(b) + y0, int(c), int(d)) for a, b, c, d, _ in st[1:]]
    m, _, st2, _ = cv2.connectedComponentsWithStats(cv2.dilate(diff, np.ones((5, 9), np.uint8)), connectivity=8)
    areas = []
    for a, b, c, d, _ in st2[1:]:  # the dilation's extent, clipped back to the image
        ax, ay = max(0, int(a) + x0), max(0, int(b) + y0)
        areas.append((ax, ay, min(W, int(a) + x0 + int(c)) - ax, min(H, int(b) + y0 + int(d)) - ay))
    return pieces, areas


def boxes_still_hold(st: Structure, before: np.ndarray, after: np.ndarray, max_share: float = 0.25) -> bool:
    """True when the boxes of ``st`` (found on ``before``) are the boxes of ``after`` too.

    Why that can be known without the box pass: boxes depend on region boundaries only. Typing into
    a field, a caret blinking, a tick or a radio dot appearing, a status line changing its words all
    change pixels *inside* a box and add no box of their own (a letter's holes are too small to
    count). So the answer is yes when every changed piece lies inside one box's region, or away from
    every box, without touching a border ring (a focus ring appearing changes a border's thickness),
    and no changed area holds a new box-sized region (a selection band, a tooltip, a pop-up). Anything
    else — a resize, a pop-up, more than ``max_share`` of the area changed — is no, and the caller runs
    the full pass. Everything after the box pass is recomputed from the new pixels either way, so the
    result equals a cold snapshot of the frame."""
    if before.shape != after.shape:
        return False
    H, W = after.shape[:2]
    pieces, areas = _changes(before, after)
    if sum(w * h for _, _, w, h in areas) > max_share * W * H:
        return False
    known = [b for b in st.boxes if significant(b)] + [b for b, _ in st.discs]
    for r in pieces:
        for b in known:
            ox, oy, ow, oh = b.outer() if b.border else (b.x - 1, b.y - 1, b.w + 2, b.h + 2)
            if _meets(r, ox, oy, ow, oh) and not _within(r, b.x, b.y, b.w, b.h):
                return False  # it reaches a border ring, or crosses a box's edge
    for x, y, w, h in areas:
        x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(W, x + w + 2), min(H, y + h + 2)
        boxes, discs = find_regions(np.ascontiguousarray(after[y0:y1, x0:x1]))
        for b in boxes + [d for d, _ in discs]:
            if not significant(b) or b.x == 0 or b.y == 0 or b.right == x1 - x0 or b.bottom == y1 - y0:
                continue  # a letter's hole, or a region running out of the changed area (its box)
            if not any(o.x == b.x + x0 and o.y == b.y + y0 and o.w == b.w and o.h == b.h for o in known):
                return False  # a new box (a selection band, a pop-up) inside the change
    return True


class VisualSource:
    """Screen elements from pixels. One per screen (it caches what it read); not thread-safe.

    ``stats`` counts lines seen, read by OCR and answered from the cache (cumulative); ``timings``
    holds the last snapshot's seconds per stage (detect, ocr, associate, total)."""

    name = "visual"

    def __init__(self, engine: RapidOcrEngine | None = None, *, min_conf: float = 0.5,
                 cache_size: int = 4096) -> None:
        self.engine = engine or RapidOcrEngine(threads=1)  # see RapidOcrEngine: one thread wins on two cores
        self.min_conf, self.cache_size = min_conf, cache_size
        self._read: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._last: tuple | None = None  # key, pixels, elements, structure of the last snapshot
        self.stats = {"snapshots": 0, "lines": 0, "read": 0, "cached": 0, "unchanged": 0, "kept_boxes": 0}
        self.timings: dict[str, float] = {}

    def clear(self) -> None:
        """Forget everything read (the next snapshot is cold)."""
        self._read.clear()
        self._last = None

    # the API -----------------------------------------------------------------------------------------
    def snapshot(self, frame, *, area: Rect | None = None) -> list[Element]:
        """The elements in ``frame`` (an ``agent.screen.Frame``), in screen coordinates."""
        t0 = time.perf_counter()
        rgb = np.asarray(frame.image if frame.image.mode == "RGB" else frame.image.convert("RGB"))
        x, y, w, h = self._region(rgb, frame, area)
        crop = rgb[y:y + h, x:x + w]
        key = (frame.left + x, frame.top + y, w, h)
        self.stats["snapshots"] += 1
        if self._last is not None and self._last[0] == key and np.array_equal(self._last[1], crop):
            self.stats["unchanged"] += 1
            self.timings = {"detect": 0.0, "ocr": 0.0, "associate": 0.0, "total": time.perf_counter() - t0}
            return list(self._last[2])
        known = None
        if self._last is not None and self._last[0] == key and self._last[3] is not None and \
                boxes_still_hold(self._last[3], self._last[1], crop):
            known = self._last[3]  # only the insides of boxes changed: keep the boxes
            self.stats["kept_boxes"] += 1
        layout = detect(crop, known)
        t1 = time.perf_counter()
        texts = self._texts(crop, layout)
        t2 = time.perf_counter()
        elements = self._elements(layout, texts, key[0], key[1])
        t3 = time.perf_counter()
        self._last = (key, crop.copy(), elements, layout.structure)
        self.timings = {"detect": t1 - t0, "ocr": t2 - t1, "associate": t3 - t2, "total": t3 - t0}
        return list(elements)

    def model(self, frame, *, area: Rect | None = None) -> ScreenModel:
        """A ``ScreenModel`` of this source alone (reading order, timings)."""
        els = self.snapshot(frame, area=area)
        x, y, w, h = self._last[0] if self._last else (frame.left, frame.top, frame.width, frame.height)
        return ScreenModel(sort_elements(els), Rect(x, y, w, h), taken_at=frame.taken_at, sources=("visual",),
                           timings={"visual": self.timings.get("total", 0.0)})

    # stages ------------------------------------------------------------------------------------------
    @staticmethod
    def _region(rgb: np.ndarray, frame, area: Rect | None) -> tuple[int, int, int, int]:
        H, W = rgb.shape[:2]
        if area is None:
            return content_box(rgb)
        x0 = max(0, int(area.left) - frame.left)
        y0 = max(0, int(area.top) - frame.top)
        x1 = min(W, int(round(area.left + area.width)) - frame.left)
        y1 = min(H, int(round(area.top + area.height)) - frame.top)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"area {area} lies outside the frame at ({frame.left}, {frame.top}) {W}x{H}")
        return x0, y0, x1 - x0, y1 - y0

    def _texts(self, rgb: np.ndarray, layout: Layout) -> list[Text]:
        crops = [line_crop(rgb, ln, layout.carets) for ln in layout.lines]
        keys = [hashlib.blake2b(c.tobytes(), digest_size=16, key=repr(c.shape).encode()).digest() for c in crops]
        todo = list({k: i for i, k in reversed(list(enumerate(keys))) if k not in self._read}.values())
        for i, res in zip(todo, self.engine.recognize([crops[i] for i in todo])):  # each new look once
            self._read[keys[i]] = res
        self.stats["lines"] += len(crops)
        self.stats["read"] += len(todo)
        self.stats["cached"] += len(crops) - len(todo)
        out = []
        for ln, k in zip(layout.lines, keys):
            self._read.move_to_end(k)
            text, conf = self._read[k]
            text = " ".join(text.split()).strip("-–—_|¦ ")  # a stub of a frame's border beside a title
            if conf >= self.min_conf and any(ch.isalnum() for ch in text):
                out.append(Text(ln.x, ln.y, ln.w, ln.h, text, conf, ln.contrast, ln.box, ln.density))
        while len(self._read) > self.cache_size:
            self._read.popitem(last=False)
        return out

    def _elements(self, layout: Layout, texts: list[Text], dx: int, dy: int) -> list[Element]:
        boxes = layout.boxes

        def parent_fill(b):
            return boxes[b.parent].fill if b.parent is not None else layout.window_fill

        controls, containers = classify(layout, texts)
        fill_values(controls, parent_fill)
        free = [t for t in texts if not t.used]
        is_heading = heading_test(texts)
        name_indicators(controls, free)
        titles = frame_titles(boxes, containers, free)
        label_fields(controls, free, is_heading)
        group_radios(controls, free, boxes, titles)
        rows = table_rows(controls, free)
        for c in controls:
            if c.of is not None:  # an open list's options belong to their combobox
                c.group = c.of.name or None
        focus(controls, layout.carets)
        for k, t in titles.items():  # controls inside a titled frame belong to its group
            b = boxes[k]
            for c in controls:
                if c.group is None and b.x <= c.x and b.y <= c.y and c.right <= b.right and c.bottom <= b.bottom:
                    c.group = t.text

        def rect(x, y, w, h) -> Rect:
            return Rect(x + dx, y + dy, w, h)

        out = [self._control(c, rect) for c in controls]
        for t in texts:
            if t.role in ("", "label", "caption", "title", "cell"):
                role = {"label": "label", "caption": "label", "title": "label", "cell": "cell"}.get(t.role) or \
                    ("heading" if is_heading(t) else "text")
                out.append(Element(role, clean_text(t.text), rect(t.x, t.y, t.w, t.h), source="visual", row=t.row))
        for (x, y, w, h), words in rows:
            out.append(Element("row", words, rect(x, y, w, h), source="visual", row=words))
        for k, t in titles.items():
            out.append(Element("group", clean_text(t.text), rect(*boxes[k].outer()), source="visual"))
        return out

    @staticmethod
    def _control(c: Control, rect) -> Element:
        states = set(c.states) - _INTERNAL
        if "disabled" not in c.states:
            states.add("enabled")
        lb = rect(c.label.x, c.label.y, c.label.w, c.label.h) if c.label is not None else None
        attrs = (("shape", c.indicator.shape),) if c.indicator is not None else ()
        if c.placeholder:
            attrs += (("placeholder", c.placeholder),)
        return Element(c.role, clean_text(c.name), rect(c.x, c.y, c.w, c.h), value=c.value, states=frozenset(states),
                       source="visual", group=c.group, row=c.row, label_bounds=lb, attrs=attrs)
