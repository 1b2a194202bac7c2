"""Pixel geometry shared by the screen readers: the closed rectangle around a point.

A button's border, a field's frame, a flat button's background all show up as a closed contour in
an edge image; the smallest one that holds a point is "the control under the point" for code that
has no element model to ask (the risky-action gate's visual read, secret masking of the field that
was clicked to type into).
"""

from __future__ import annotations

import numpy as np

#: A rectangle bigger than this is a panel or a window, not one control.
MAX_CONTROL = (640, 140)


def enclosing_box(grey: np.ndarray, px: int, py: int, max_size: tuple[int, int] = MAX_CONTROL
                  ) -> tuple[int, int, int, int] | None:
    """The smallest closed, roughly rectangular contour of the greyscale image ``grey`` that holds
    (px, py), as (x, y, w, h); None when the point is on bare background."""
    import cv2

    edges = cv2.Canny(np.ascontiguousarray(grey), 30, 90)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    best = None
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w < 10 or h < 8 or w > max_size[0] or h > max_size[1]:
            continue
        if not (x < px < x + w - 1 and y < py < y + h - 1):
            continue
        if cv2.contourArea(cv2.convexHull(c)) < 0.75 * w * h:  # not a rectangle (a glyph, a line)
            continue
        if best is not None and w * h >= best[2] * best[3]:
            continue
        if _perimeter_on_edges(edges, x, y, w, h) < 0.97:  # a blob of glyphs (gaps between letters), not a frame
            continue
        best = (x, y, w, h)
    return best


def _perimeter_on_edges(edges: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    """The fraction of a rectangle's outline that lies on edge pixels (within 1 px): about 1 for a
    control's border or background, low for the bounding box of a word."""
    e = edges > 0
    top = e[max(0, y - 1):y + 2, x:x + w].any(axis=0)
    bottom = e[max(0, y + h - 2):y + h + 1, x:x + w].any(axis=0)
    left = e[y:y + h, max(0, x - 1):x + 2].any(axis=1)
    right = e[y:y + h, max(0, x + w - 2):x + w + 1].any(axis=1)
    total = top.size + bottom.size + left.size + right.size
    return float(top.sum() + bottom.sum() + left.sum() + right.sum()) / total if total else 0.0
