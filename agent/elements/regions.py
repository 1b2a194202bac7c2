"""Flat-coloured regions of a screenshot and the boxes among them: the first half of the visual parse.

Why regions: toolkits without an accessibility tree still draw a control as a rectangle of one
colour (an entry's white, a button's grey) fenced off from its parent by a border or by a colour of
its own. Pixels are joined to a neighbour when they differ by at most a few levels (exactly, on a
doubled grid, so nothing is lost at a boundary); a region that fills its bounding box edge to edge —
or holds such a rectangle beside a stray bevel pixel — is a ``Box``. Boxes nest (window ⊃ frame ⊃
entry); each knows its border (how many pixel rings around it differ from its parent's colour) and
whether it looks raised or sunken; ``agent.elements.arrows`` merges the small arrow boxes into their
fields. Small discs and diamonds are kept apart as radio-button candidates.

``agent.elements.detect`` builds on these: indicators, text lines, carets. Image pixels throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


#: Neighbouring pixels that differ by at most this (max over channels) belong to one region.
EDGE_LEVEL = 10
#: Sides (px) of a tick box's or radio button's inside.
INDICATOR_SIZES = (7, 26)


@dataclass(slots=True)
class Box:
    """A flat-coloured rectangle: ``x, y, w, h`` its region, ``fill`` its colour, ``parent`` the index
    of the innermost box around it (None for the outermost); ``border`` how many pixel rings around
    it differ from the parent's colour (0: a borderless band), ``bevel`` raised/sunken/flat."""

    x: int
    y: int
    w: int
    h: int
    fill: tuple[int, int, int]
    area: int
    parent: int | None = None
    border: int = 0
    bevel: str = "flat"
    arrows: list[str] = field(default_factory=list)  # "down"/"up" glyphs in arrow boxes merged into it
    kind: str = "box"  # box | arrow | indicator (claimed by another control) | band (a selection in a field)
    ring: float = -1.0  # luminance of the outermost border ring (a focus ring is darker than its peers')

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def outer(self) -> tuple[int, int, int, int]:
        b = self.border
        return self.x - b, self.y - b, self.w + 2 * b, self.h + 2 * b


def lum(c) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def similar_regions(rgb: np.ndarray, level: int = EDGE_LEVEL) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected regions of pixels joined to a 4-neighbour when they differ by at most ``level``.

    Why a doubled grid: "connected if similar" is a relation between *pairs* of pixels, which a binary
    connected-components pass cannot express on the image itself. On a 2H x 2W grid every pixel is a
    node at an even position and the cell between two neighbours is set only when they are similar,
    so regions are exact: no pixel is lost at a boundary, and a tick or a dot inside a small box does
    not cut the box's background in pieces. Returns (count, labels per pixel, stats x/y/w/h/area)."""
    H, W = rgb.shape[:2]
    g = np.zeros((2 * H - 1, 2 * W - 1), np.uint8)
    g[::2, ::2] = 1
    g[::2, 1::2] = maxdiff(rgb[:, 1:], rgb[:, :-1]) <= level
    g[1::2, ::2] = maxdiff(rgb[1:], rgb[:-1]) <= level
    # 8-connectivity gives the same regions here (two set links that touch diagonally always share a
    # pixel) and OpenCV's Spaghetti labelling is the fastest for it
    n, lab2, st2, _ = cv2.connectedComponentsWithStatsWithAlgorithm(g, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI)
    labels = np.ascontiguousarray(lab2[::2, ::2])
    st = np.empty((n, 5), np.int64)
    st[:, 0], st[:, 1] = st2[:, 0] // 2, st2[:, 1] // 2
    st[:, 2] = (st2[:, 0] + st2[:, 2] - 1) // 2 - st[:, 0] + 1
    st[:, 3] = (st2[:, 1] + st2[:, 3] - 1) // 2 - st[:, 1] + 1
    st[:, 4] = np.bincount(labels.ravel(), minlength=n)
    return n, labels, st


def maxdiff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, the largest difference over the three channels (uint8; OpenCV, ~1 ms a screen)."""
    ch = cv2.split(cv2.absdiff(np.ascontiguousarray(a), np.ascontiguousarray(b)))
    return cv2.max(cv2.max(ch[0], ch[1]), ch[2])


def fill_holes(mask: np.ndarray) -> np.ndarray:
    pad = np.pad(mask, 1).astype(np.uint8)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 2)
    return (flood != 2)[1:-1, 1:-1]


def _shape(mask: np.ndarray) -> str | None:
    """square / circle / diamond for a small region mask (holes filled), or None."""
    h, w = mask.shape
    filled = fill_holes(mask)
    ratio = filled.mean()
    corners = filled[0, 0] + filled[0, -1] + filled[-1, 0] + filled[-1, -1]
    if ratio >= 0.88 and corners >= 3:
        return "square"
    if corners == 0 and filled[h // 2, w // 2] and filled[h // 2].mean() > 0.8 and filled[:, w // 2].mean() > 0.8:
        if 0.68 <= ratio <= 0.88:
            return "circle"
        if 0.4 <= ratio < 0.68:
            return "diamond"
    return None


def _core(sub: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest full rectangle of a region that leaks at one side (a spin box's white field joined
    to the white bevel lines of its arrows): the longest run of well-covered columns, then rows."""
    def run(cov: np.ndarray) -> tuple[int, int]:
        ok = np.concatenate([[False], cov >= 0.85, [False]])
        d = np.diff(ok.astype(np.int8))
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        if not len(starts):
            return 0, 0
        k = int(np.argmax(ends - starts))
        return int(starts[k]), int(ends[k])
    c0, c1 = run(sub.mean(axis=0))
    if c1 - c0 < 5:
        return None
    r0, r1 = run(sub[:, c0:c1].mean(axis=1))
    if r1 - r0 < 5 or (c1 - c0) * (r1 - r0) < 0.5 * sub.sum():
        return None
    return c0, r0, c1 - c0, r1 - r0


def find_regions(rgb: np.ndarray) -> tuple[list[Box], list[tuple[Box, str]]]:
    """Boxes (regions that fill their bounding box edge to edge) and small indicator-shaped regions."""
    n, labels, stats = similar_regions(rgb)
    boxes: list[Box] = []
    small: list[tuple[Box, str]] = []
    lo, hi = INDICATOR_SIZES
    big = np.nonzero((stats[:, 2] >= 4) & (stats[:, 3] >= 4) & (stats[:, 4] >= 12))[0]
    for i in big:
        x, y, w, h, area = (int(v) for v in stats[i])
        sub = labels[y:y + h, x:x + w] == i
        if lo - 2 <= w <= hi and lo - 2 <= h <= hi and abs(w - h) <= 2:
            shape = _shape(sub)
            if shape in ("circle", "diamond"):
                small.append((Box(x, y, w, h, _colour(rgb, sub, x, y), area), shape))
                continue
        if min(w, h) < 5 or (min(w, h) <= 8 and max(w, h) > 3 * min(w, h)):
            continue  # a letter's stem or bar (bold type draws them as flat rectangles), or a rule
        if area < 0.3 * w * h and _closed_ring(sub):
            continue  # a border drawn round something (a tall text box's frame): the box inside measures it
        if area < 0.3 * w * h and (w < 100 or h < 60 or fill_holes(sub).mean() < 0.9):
            continue  # sparse: not a box (a window whose widgets take most of it is one, holes filled)
        sides = sorted((np.count_nonzero(sub[0]) / w, np.count_nonzero(sub[-1]) / w,
                        np.count_nonzero(sub[:, 0]) / h, np.count_nonzero(sub[:, -1]) / h))
        if sides[0] >= 0.7:
            boxes.append(Box(x, y, w, h, _colour(rgb, sub, x, y), area))
            continue
        if sides[1] >= 0.85 and w >= 16 and h >= 10 and _covered(sub, labels[y:y + h, x:x + w], stats, x, y, w, h):
            # three solid sides and the rest of the rectangle taken by regions lying wholly inside it:
            # a selection band over the text at its left edge, arrow buttons at its right end
            boxes.append(Box(x, y, w, h, _colour(rgb, sub, x, y), area))
            continue
        # marks inside (a tick, letters) count as the box's own: fill the holes, then look for the
        # full rectangle that a stray bevel pixel at one corner may hide
        core = _core(fill_holes(sub)) if w >= 6 and h >= 6 else None
        if core is not None:
            cx, cy, cw, ch = core
            boxes.append(Box(x + cx, y + cy, cw, ch, _colour(rgb, sub, x, y), cw * ch))
    return boxes, small


def _closed_ring(sub: np.ndarray, thick: int = 4) -> bool:
    """Is the region only a closed frame, at most ``thick`` pixels wide on every side? Such a ring is
    the border of what it encloses (the 1-px outline and focus ring round a multi-line text box), not
    a box of its own; a labelled frame's ring is open where its title cuts it, and a window's or
    panel's own colour reaches in between its widgets."""
    h, w = sub.shape
    if h <= 2 * thick or w <= 2 * thick or sub[thick:-thick, thick:-thick].any():
        return False
    return min(sub[0].mean(), sub[-1].mean(), sub[:, 0].mean(), sub[:, -1].mean()) >= 0.97


def _covered(sub: np.ndarray, lab: np.ndarray, stats: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    """Does the region, with every region lying wholly inside its bounding box, fill that box?"""
    ids = np.unique(lab[~sub])
    st = stats[ids]
    inside = ids[(st[:, 0] >= x) & (st[:, 1] >= y) & (st[:, 0] + st[:, 2] <= x + w) & (st[:, 1] + st[:, 3] <= y + h)]
    return bool(fill_holes(sub | np.isin(lab, inside)).mean() >= 0.97)


def _colour(rgb, sub: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    """The region's colour: the median of up to ~64 of its pixels."""
    ys, xs = np.nonzero(sub[:: max(1, sub.shape[0] // 8), :: max(1, sub.shape[1] // 8)])
    px = rgb[y + ys * max(1, sub.shape[0] // 8), x + xs * max(1, sub.shape[1] // 8)]
    return tuple(int(v) for v in np.median(px, axis=0)) if len(px) else (0, 0, 0)


def join_bands(rgb: np.ndarray, boxes: list[Box]) -> None:
    """A field cut by a selection band (the blue behind a focused combobox's value, selected text):
    boxes of one height that touch side by side with no border between them are one field, at most
    three pieces, when the whole has a border. The widest piece gives the fill; the others become
    ``band`` s inside it."""
    by_x: dict[int, list[Box]] = {}
    for b in boxes:
        if b.kind == "box" and b.h >= 10:
            by_x.setdefault(b.x, []).append(b)
    done: set[int] = set()
    for a in sorted((b for b in boxes if b.kind == "box" and b.h >= 10), key=lambda b: b.x):
        if id(a) in done:
            continue
        chain = [a]
        while len(chain) < 3:
            last = chain[-1]
            nxt = next((b for b in by_x.get(last.right, []) if abs(b.y - last.y) <= 1
                        and abs(b.bottom - last.bottom) <= 1 and b.kind == "box"), None)
            if nxt is None:
                break
            chain.append(nxt)
        if len(chain) < 2:
            continue
        field = max(chain, key=lambda b: b.w)
        x0, y0 = chain[0].x, min(b.y for b in chain)
        whole = Box(x0, y0, chain[-1].right - x0, max(b.bottom for b in chain) - y0, field.fill, 0)
        around = _around_fill(rgb, whole)
        measure_border(rgb, whole, around)
        if whole.border == 0:
            continue
        for b in chain:
            done.add(id(b))
            if b is not field:
                b.kind = "band"
        field.x, field.y, field.w, field.h = whole.x, whole.y, whole.w, whole.h


def extend_to_border(rgb: np.ndarray, b: Box, limit: int = 400) -> bool:
    """Widen a field whose region stops short of its own border: follow the border lines just above
    and below it sideways to their corners (a selection band or a highlighted value may cover the
    field's colour from the text's start), stopping at any full-height line between (a cell edge)."""
    H, W = rgb.shape[:2]
    if b.y < 1 or b.bottom >= H or b.w < 2 * b.h:
        return False
    grew = False
    top, bot = rgb[b.y - 1].astype(np.int16), rgb[b.bottom].astype(np.int16)
    mid = b.x + b.w // 2
    ct, cb = top[mid], bot[mid]

    def run(row: np.ndarray, colour: np.ndarray, x: int, step: int) -> int:
        n = 0
        while 0 <= x + step * (n + 1) < W and n < limit and np.abs(row[x + step * (n + 1)] - colour).max() <= 10:
            n += 1
        return n

    for step in (-1, 1):
        edge = b.x if step < 0 else b.right - 1
        a, c = run(top, ct, edge, step), run(bot, cb, edge, step)
        d = min(a, c) - 1
        if d < 3 or abs(a - c) > 2:
            continue
        xs = range(edge + step, edge + step * (d + 1), step)
        col_line = [np.abs(rgb[b.y:b.bottom, x].astype(np.int16) - ct).max(axis=1) <= 10 for x in xs]
        stop = next((i for i, c in enumerate(col_line) if c.mean() >= 0.8), None)
        if stop is not None:
            d = stop
        if d >= 3:
            if step < 0:
                b.x, b.w = b.x - d, b.w + d
            else:
                b.w += d
            grew = True
    return grew


def _around_fill(rgb: np.ndarray, b: Box) -> tuple[int, int, int]:
    """The colour just outside a box's border (5 px out, the median of its four sides)."""
    H, W = rgb.shape[:2]
    px = [rgb[max(0, b.y - 5), min(W - 1, b.x + b.w // 2)], rgb[min(H - 1, b.bottom + 4), min(W - 1, b.x + b.w // 2)],
          rgb[min(H - 1, b.y + b.h // 2), max(0, b.x - 5)], rgb[min(H - 1, b.y + b.h // 2), min(W - 1, b.right + 4)]]
    return tuple(int(v) for v in np.median(np.array(px), axis=0))


def nest(boxes: list[Box]) -> None:
    """Set each box's ``parent``: the smallest box that contains it."""
    for b in boxes:
        b.parent = None
    order = sorted(range(len(boxes)), key=lambda i: boxes[i].w * boxes[i].h)
    for k, i in enumerate(order):
        b = boxes[i]
        for j in order[k + 1:]:
            p = boxes[j]
            if p.x - 3 <= b.x and p.y - 3 <= b.y and b.right <= p.right + 3 and b.bottom <= p.bottom + 3 \
                    and p.w * p.h > b.w * b.h:
                b.parent = j
                break


def _ring(rgb: np.ndarray, b: Box, d: int) -> list[np.ndarray]:
    """The pixels at distance ``d`` outside ``b``'s sides (top, bottom, left, right), middle 80 %."""
    H, W = rgb.shape[:2]
    x0, x1 = b.x + b.w // 10, b.right - b.w // 10
    y0, y1 = b.y + b.h // 10, b.bottom - b.h // 10
    out = []
    for yy in (b.y - d, b.bottom - 1 + d):
        out.append(rgb[yy, x0:x1] if 0 <= yy < H else np.zeros((0, 3), rgb.dtype))
    for xx in (b.x - d, b.right - 1 + d):
        out.append(rgb[y0:y1, xx] if 0 <= xx < W else np.zeros((0, 3), rgb.dtype))
    return out


def measure_border(rgb: np.ndarray, b: Box, parent_fill) -> None:
    """How many rings around ``b`` differ from the parent colour, and whether it is raised or sunken."""
    pf = np.array(parent_fill, np.int16)
    weights = np.array([0.299, 0.587, 0.114])
    thick, tl, br = 0, [], []
    for d in range(1, 6):
        sides = [s[:: max(1, len(s) // 24)].astype(np.int16) for s in _ring(rgb, b, d)]
        diff = [np.abs(s - pf).max(axis=1).mean() if len(s) else 0 for s in sides]
        if sum(v > 12 for v in diff) < 2:
            break
        thick = d
        lums = [float((s @ weights).mean()) if len(s) else 0.0 for s in sides]
        tl.append((lums[0] + lums[2]) / 2)
        br.append((lums[1] + lums[3]) / 2)
    b.border = thick
    if thick:
        b.ring = (tl[-1] + br[-1]) / 2
        delta = float(np.mean(tl)) - float(np.mean(br))
        b.bevel = "raised" if delta > 25 else "sunken" if delta < -25 else "flat"
