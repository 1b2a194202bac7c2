"""When an incremental snapshot may keep the previous frame's boxes, and so skip the costliest pass.

Why it is safe: the box pass (``agent.elements.detect.structure``) depends on region boundaries only.
Typing into a field, a caret blinking, a tick or a radio dot appearing, a status line changing its
words — all change pixels *inside* a box and add no box of their own (a letter's holes are too small
to count), so the boxes found on the new frame would be the ones already known. Everything after the
box pass (indicator states, carets, text, lines, names) is recomputed from the new pixels anyway.

``boxes_still_hold(structure, before, after)`` says yes only when every changed rectangle

* lies inside one box's region, or outside every box's border, without touching a border ring (a
  focus ring appearing changes how thick a border is: that needs the box pass), and
* holds no new box-sized region (a selection band, a tooltip, a pop-up) that the structure lacks.

Anything else — a resize, a pop-up, more than a quarter of the area changed — says no, and the caller
runs the full pass. The result is then the same as a cold snapshot of the frame, only cheaper.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.elements.detect import Structure
from agent.elements.regions import INDICATOR_SIZES, Box, find_regions, maxdiff


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
    """True when the boxes of ``st`` (found on ``before``) are the boxes of ``after`` too."""
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
