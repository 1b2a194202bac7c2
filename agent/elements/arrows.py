"""Drop-down and spin arrows: the triangle glyphs that make a field a combobox or a spin box.

Why glyphs and not sizes: every toolkit draws the arrow of a combobox or the two arrows of a spin box
as a small box (or a strip at the field's own right end) holding a solid, centred triangle; the box's
size, colour and bevel differ from theme to theme, the triangle does not. A small box with a triangle
becomes an ``arrow`` and is merged into the field on its left, which records the arrows top to bottom
(``["down"]`` a combobox, ``["up", "down"]`` a spin box). A triangle with no field beside it is a
letter's part (the bowl of a "b"), not an arrow. Image pixels throughout, as in ``agent.elements.regions``.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.elements.regions import Box


def _triangle(dark: np.ndarray) -> str | None:
    """"down"/"up" when the dark pixels form a solid, centred triangle pointing that way: one run per
    row, rows 1-3 px narrower each step down to a tip of at most 3 px (letters are never all of that)."""
    rows = [np.nonzero(r)[0] for r in dark]
    rows = [r for r in rows if len(r)]
    if len(rows) < 3 or any(r[-1] - r[0] + 1 != len(r) for r in rows):
        return None
    widths = np.array([len(r) for r in rows])
    centres = np.array([(r[0] + r[-1]) / 2 for r in rows])
    if centres.max() - centres.min() > 1.0:
        return None
    steps = np.diff(widths)
    if widths[0] >= 5 and widths[-1] <= 3 and np.all((steps <= -1) & (steps >= -3)):
        return "down"
    if widths[-1] >= 5 and widths[0] <= 3 and np.all((steps >= 1) & (steps <= 3)):
        return "up"
    return None


def arrows_in(rgb: np.ndarray, b: Box) -> list[str]:
    """The triangle glyphs inside a small box, top to bottom (a spin box holds two)."""
    g = rgb[b.y:b.bottom, b.x:b.right].astype(np.int16)
    dark = np.abs(g - np.array(b.fill, np.int16)).max(axis=2) > 60
    n, lab, st, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    found = []
    for i in sorted(range(1, n), key=lambda k: st[k, 1]):
        x, y, w, h, a = st[i]
        if w >= 3 and h >= 2 and w <= b.w and h <= b.h * 0.8:
            t = _triangle(lab[y:y + h, x:x + w] == i)
            if t:
                found.append(t)
    return found


def attach_arrows(rgb: np.ndarray, boxes: list[Box]) -> None:
    """Mark small boxes holding triangles as arrows and merge them into the field on their left; a
    bordered single-line field with a triangle drawn at its own right end gets it too."""
    for a in boxes:
        if 7 <= a.w <= 40 and 5 <= a.h <= 60 and a.parent is not None:
            tri = arrows_in(rgb, a)
            if tri:
                a.kind, a.arrows = "arrow", tri
    hosts: dict[int, list[Box]] = {}
    for a in (b for b in boxes if b.kind == "arrow"):
        best, best_d = None, None
        for k, f in enumerate(boxes):
            if f.kind != "box" or f.w < 2 * a.w or f.h > 3.5 * a.h + 8:
                continue
            ov = min(f.bottom, a.bottom) - max(f.y, a.y)
            d = abs(a.x - f.right)
            if f.x < a.x and a.right <= f.right + 1 and f.y - 1 <= a.y and a.bottom <= f.bottom + 1 \
                    and f.right - a.right <= 4:
                d = 0  # inside the field, at its right end
            if d <= 8 and ov >= 0.6 * a.h and (best_d is None or d < best_d):
                best, best_d = k, d
        if best is not None:
            hosts.setdefault(best, []).append(a)
        else:  # a triangle with no field beside it is not a drop-down arrow (the bowl of a "b"...)
            a.kind, a.arrows = "box", []
    for k, arrows in hosts.items():
        host = boxes[k]
        x1 = max([host.right] + [a.right for a in arrows])
        y1 = max([host.bottom] + [a.bottom for a in arrows])
        host.x, host.y = min([host.x] + [a.x for a in arrows]), min([host.y] + [a.y for a in arrows])
        host.w, host.h = x1 - host.x, y1 - host.y
        host.arrows = [t for a in sorted(arrows, key=lambda a: a.y) for t in a.arrows]
    for f in boxes:
        if f.kind == "box" and f.border and not f.arrows and 14 <= f.h <= 50 and f.w >= 3 * f.h:
            strip = Box(f.right - min(f.w, int(f.h * 1.2)), f.y, min(f.w, int(f.h * 1.2)), f.h, f.fill, 0)
            tri = arrows_in(rgb, strip)
            if tri and len(tri) <= 2:
                f.arrows = tri
