"""OpenCV detection of a screenshot's controls: flat-coloured boxes, tick boxes, radio dots, arrows, text lines.

Why flat regions and not learned detectors: toolkits without an accessibility tree (Tk, canvases, a
remote desktop) still draw controls the same way — a rectangle of one colour (an entry's white, a
button's grey) fenced off from its parent by a border or by a different colour. So the image is cut
into connected regions of near-constant colour (pixels that differ from no neighbour by more than a
few levels); a region whose bounding box it fills edge to edge is a *box*, and boxes nest (window ⊃
frame ⊃ entry). Everything else follows from shapes and neighbours, never from one app's pixel sizes:

* small square boxes are tick boxes, small discs or diamonds are radio buttons — *isolated* ones
  (a glyph's inner hole has the next letter within a pixel or two);
* a small box at the right end of a wider box, holding a triangle, is its drop-down or spin arrow;
* what is left after removing long straight lines (borders) and indicators is text: pixel blobs
  merged into lines when they share a baseline band and are less than about one letter height apart;
* a caret is a thin vertical bar in a box taller than any letter next to it; it is reported and kept
  out of the text (OCR would read it as "l").

Everything here is in image pixels of the array given; ``agent.elements.visual`` maps to the screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

#: Neighbouring pixels that differ by more than this (max over channels) are an edge.
EDGE_LEVEL = 10
#: A stroke at least this long and straight is a border or rule, not a letter.
LINE_LEN = 25
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
    kind: str = "box"  # box | arrow | indicator (claimed by another control)
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


@dataclass(slots=True)
class Indicator:
    """A tick box (``square``) or radio button (``circle``/``diamond``) and whether it is on."""

    x: int
    y: int
    w: int
    h: int
    shape: str
    checked: bool
    mark: float  # share of its inside covered by a mark (tick, dot), or -1 for a filled style


@dataclass(slots=True)
class Line:
    """A line of text: tight bounds, the colour behind it, the ink contrast, and the box it sits in."""

    x: int
    y: int
    w: int
    h: int
    bg: tuple[int, int, int]
    contrast: float
    box: int | None  # index into Layout.boxes of the innermost box holding it
    density: float = 0.0  # share of its box that is ink (bold type is denser)


@dataclass
class Layout:
    boxes: list[Box]
    indicators: list[Indicator]
    lines: list[Line]
    carets: list[tuple[int, int, int, int]]  # x, y, w, h
    window_fill: tuple[int, int, int] | None = None


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
    n, lab2, st2, _ = cv2.connectedComponentsWithStats(g, connectivity=4)
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


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    pad = np.pad(mask, 1).astype(np.uint8)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 2)
    return (flood != 2)[1:-1, 1:-1]


def _shape(mask: np.ndarray) -> str | None:
    """square / circle / diamond for a small region mask (holes filled), or None."""
    h, w = mask.shape
    filled = _fill_holes(mask)
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
        if area < 0.3 * w * h or min(w, h) < 5 or (min(w, h) <= 8 and max(w, h) > 3 * min(w, h)):
            continue  # a letter's stem or bar (bold type draws them as flat rectangles), or a rule
        if min(sub[0].mean(), sub[-1].mean(), sub[:, 0].mean(), sub[:, -1].mean()) >= 0.7:
            boxes.append(Box(x, y, w, h, _colour(rgb, sub, x, y), area))
            continue
        # marks inside (a tick, letters) count as the box's own: fill the holes, then look for the
        # full rectangle that a stray bevel pixel at one corner may hide
        core = _core(_fill_holes(sub)) if w >= 6 and h >= 6 else None
        if core is not None:
            cx, cy, cw, ch = core
            boxes.append(Box(x + cx, y + cy, cw, ch, _colour(rgb, sub, x, y), cw * ch))
    return boxes, small


def _colour(rgb, sub: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    """The region's colour: the median of up to ~64 of its pixels."""
    ys, xs = np.nonzero(sub[:: max(1, sub.shape[0] // 8), :: max(1, sub.shape[1] // 8)])
    px = rgb[y + ys * max(1, sub.shape[0] // 8), x + xs * max(1, sub.shape[1] // 8)]
    return tuple(int(v) for v in np.median(px, axis=0)) if len(px) else (0, 0, 0)


def nest(boxes: list[Box]) -> None:
    """Set each box's ``parent``: the smallest box that contains it."""
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


def paint_background(shape: tuple[int, int], boxes: list[Box], default) -> np.ndarray:
    """An image of what lies *behind* each pixel: every box's fill, parents painted before children."""
    bg = np.empty((*shape, 3), np.uint8)
    bg[:, :] = np.array(default, np.uint8)
    for b in sorted(boxes, key=lambda b: -(b.w * b.h)):
        cv2.rectangle(bg, (b.x, b.y), (b.right - 1, b.bottom - 1), tuple(int(v) for v in b.fill), -1)
    return bg


def ink_mask(rgb: np.ndarray, bg: np.ndarray, level: int = 40) -> np.ndarray:
    """Pixels that stand out from what lies behind them: letters, borders, marks."""
    return maxdiff(rgb, bg) > level


def straight_lines(ink: np.ndarray, length: int = LINE_LEN) -> np.ndarray:
    u8 = ink.astype(np.uint8)
    h = cv2.morphologyEx(u8, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    v = cv2.morphologyEx(u8, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    return (h | v).astype(bool)


def _isolated(ink: np.ndarray, x: int, y: int, w: int, h: int, gap: int = 2) -> bool:
    """No ink within ``gap`` pixels of the outline (x, y, w, h) on any side: a control, not the hole
    of a letter (whose neighbours are a pixel or two away on at least one side)."""
    H, W = ink.shape
    x0, y0, x1, y1 = max(0, x - gap), max(0, y - gap), min(W, x + w + gap), min(H, y + h + gap)
    sides = (ink[y0:y1, x0:max(x0, x)], ink[y0:y1, min(x + w, x1):x1],
             ink[y0:max(y0, y), x0:x1], ink[min(y + h, y1):y1, x0:x1])
    return all(s.size == 0 or s.mean() < 0.06 for s in sides)


def indicator_state(rgb: np.ndarray, b: Box, shape: str, parent_fill) -> tuple[bool, float]:
    """(checked, mark share): a tick or dot inside, or — for a filled style with no mark — a fill much
    darker than the colour around it (ttk's sunken dark square/diamond)."""
    g = rgb[b.y:b.bottom, b.x:b.right].astype(np.int16)
    off = np.abs(g - np.array(b.fill, np.int16)).max(axis=2) > 60
    h, w = off.shape
    if shape == "square":
        inner = off[1:-1, 1:-1] if h > 4 and w > 4 else off
    else:  # the centre of a disc or diamond, where the dot goes
        inner = off[h * 3 // 10:h - h * 3 // 10, w * 3 // 10:w - w * 3 // 10]
    mark = float(inner.mean()) if inner.size else 0.0
    if mark >= 0.1:
        return True, mark
    if mark <= 0.03:
        return lum(b.fill) < lum(parent_fill) - 60, -1.0 if lum(b.fill) < lum(parent_fill) - 60 else mark
    return mark >= 0.06, mark  # between: the nearer side, with a margin either way


def _see_through(rgb: np.ndarray, b: Box, shape: str, parent_fill) -> bool:
    """True when what is drawn inside the region has the parent's colour: the region is a letter's
    stroke around its hole (a bold "o"), not an indicator (whose tick or dot is ink of its own)."""
    g = rgb[b.y:b.bottom, b.x:b.right]
    h, w = g.shape[:2]
    inner = g[1:-1, 1:-1] if shape == "square" else g[h // 4:h - h // 4, w // 4:w - w // 4]
    px = inner.reshape(-1, 3).astype(np.int16)
    other = px[np.abs(px - np.array(b.fill, np.int16)).max(axis=1) > 40]
    if len(other) < max(3, 0.1 * len(px)):
        return False
    return int(np.abs(np.median(other, axis=0) - np.array(parent_fill)).max()) < 24


def find_carets(ink: np.ndarray, boxes: list[Box]) -> list[tuple[int, int, int, int]]:
    """Text cursors: a thin vertical bar in a bordered box that reaches from the tops of the letters
    beside it to below their baseline (a caret spans the whole line; an "l" or a "d" stops at the
    baseline, a "j" starts at the x-height), or the only ink in an empty field."""
    out = []
    for b in boxes:
        if b.kind != "box" or b.border == 0 or b.w < 20 or b.h < 10:
            continue
        x0, y0 = b.x + 2, b.y + 1
        sub = ink[y0:b.bottom - 1, x0:b.right - 2]
        if not sub.any():
            continue
        run = np.zeros(sub.shape[1], np.int32)
        end = np.zeros(sub.shape[1], np.int32)
        cur = np.zeros(sub.shape[1], np.int32)
        for r, row in enumerate(sub):
            cur = (cur + 1) * row
            better = cur > run
            run[better], end[better] = cur[better], r
        tall = np.nonzero(run >= 8)[0]
        for g in np.split(tall, np.nonzero(np.diff(tall) > 1)[0] + 1) if len(tall) else []:
            if len(g) > 3:
                continue
            c0, c1 = int(g[0]), int(g[-1]) + 1
            k = c0 + int(np.argmax(run[c0:c1]))
            top, bot = int(end[k] - run[k] + 1), int(end[k])
            band = sub[top:bot + 1].copy()
            band[:, max(0, c0 - 1):c1 + 1] = False
            cols = np.nonzero(band.any(axis=0))[0]
            if len(cols) == 0:
                if run[k] < 0.5 * min(b.h, 40) and b.h <= 60:
                    continue
            else:
                seg = band[:, cols]
                bottoms = seg.shape[0] - 1 - seg[::-1].argmax(axis=0)
                # a letter beside it that crosses its top row (ink there and just above) is taller
                taller = top > 0 and bool((sub[top - 1, cols] & sub[top, cols]).any())
                if bot - top < float(np.median(bottoms)) + 2 or taller:
                    continue  # ends on the baseline, or the letters beside it reach higher: a letter
            out.append((x0 + c0, y0 + top, c1 - c0, bot - top + 1))
    return out


def group_lines(ink: np.ndarray, owner, gap_ratio: float = 0.8) -> list[tuple[int, int, int, int, int | None]]:
    """Letters into words (pixels at most 2 apart), words into lines (a shared band, a gap under
    ``gap_ratio`` of the line's height, the same box): (x, y, w, h, box) per line."""
    joined = cv2.dilate(ink.astype(np.uint8), np.ones((1, 3), np.uint8))
    n, _, st, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    words = [(int(x) + 1, int(y), int(w) - 2, int(h)) for x, y, w, h, a in st[1:] if a >= 2 and h <= 80]
    words = [(x, y, max(1, w), h) for x, y, w, h in words]
    words.sort()
    lines: list[list] = []  # [x0, y0, x1, y1, box]
    tiny = []
    for x, y, w, h in words:
        box = owner(x, y, w, h)
        if w <= 4 and h <= 4:
            tiny.append((x, y, w, h, box))
            continue
        best, best_gap = None, None
        for ln in reversed(lines[-60:]):
            if ln[4] != box:
                continue
            lh = ln[3] - ln[1]
            ov = min(ln[3], y + h) - max(ln[1], y)
            if ov < 0.5 * min(lh, h):
                continue
            if max(lh, h) > 2.6 * min(lh, h) and not (h < lh and y >= ln[1] - 1 and y + h <= ln[3] + 1):
                continue
            g = x - ln[2]
            if g > gap_ratio * max(lh, h) + 1 or g < -max(lh, h):
                continue
            if best is None or g < best_gap:
                best, best_gap = ln, g
        if best is None:
            lines.append([x, y, x + w, y + h, box])
        else:
            best[0], best[1] = min(best[0], x), min(best[1], y)
            best[2], best[3] = max(best[2], x + w), max(best[3], y + h)
    for x, y, w, h, box in tiny:  # dots, accents, full stops: into the line they touch
        for ln in lines:
            if ln[4] == box and ln[0] - 2 <= x <= ln[2] + 2 and ln[1] - 5 <= y <= ln[3] + 2:
                ln[0], ln[1] = min(ln[0], x), min(ln[1], y)
                ln[2], ln[3] = max(ln[2], x + w), max(ln[3], y + h)
                break
    return [(a, b, c - a, d - b, box) for a, b, c, d, box in lines if d - b >= 5 and c - a >= 3]


def _attach_arrows(rgb: np.ndarray, boxes: list[Box]) -> None:
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


def detect(rgb: np.ndarray) -> Layout:
    """The controls and text lines of one screenshot (or a crop of one)."""
    rgb = np.ascontiguousarray(rgb)
    H, W = rgb.shape[:2]
    boxes, discs = find_regions(rgb)
    nest(boxes)
    for b in boxes:
        if b.parent is not None:
            measure_border(rgb, b, boxes[b.parent].fill)
    _attach_arrows(rgb, boxes)
    top = max(boxes, key=lambda b: b.w * b.h) if boxes else None
    default = top.fill if top is not None else tuple(int(v) for v in np.median(rgb.reshape(-1, 3)[::97], axis=0))
    bg = paint_background((H, W), [b for b in boxes], default)
    ink = ink_mask(rgb, bg)

    def parent_fill(b: Box):
        around = [o for o in boxes if o is not b and o.x <= b.x and o.y <= b.y and b.right <= o.right
                  and b.bottom <= o.bottom and o.w * o.h > 2 * b.w * b.h]
        return min(around, key=lambda o: o.w * o.h).fill if around else default

    indicators: list[Indicator] = []
    lo, hi = INDICATOR_SIZES
    cands = [(b, "square") for b in boxes if b.kind == "box" and lo <= b.w <= hi and lo <= b.h <= hi
             and abs(b.w - b.h) <= 1] + discs
    for b, shape in cands:
        pf = boxes[b.parent].fill if b.parent is not None else parent_fill(b)
        if shape != "square":
            measure_border(rgb, b, pf)
        pad = max(1, min(b.border, 3))
        ox, oy, ow, oh = b.x - pad, b.y - pad, b.w + 2 * pad, b.h + 2 * pad
        # a glyph's hole ("O") shows the background through it and has the next letter close by; an
        # indicator has a fill of its own, or at least clear space all around
        if not _isolated(ink, ox, oy, ow, oh) or \
                (max(abs(int(a) - int(c)) for a, c in zip(b.fill, pf)) < 12 and not _isolated(ink, ox, oy, ow, oh, 4)):
            continue
        if _see_through(rgb, b, shape, pf):
            continue
        on, mark = indicator_state(rgb, b, shape, pf)
        indicators.append(Indicator(ox, oy, ow, oh, shape, on, mark))
        if shape == "square":
            b.kind = "indicator"
    carets = find_carets(ink, boxes)
    text = ink & ~straight_lines(ink)
    for b in boxes:  # a box's own border is never text (letters start a pixel or two inside it) —
        # but the "border" of a letter's hole is the letter: holes show their parent's colour
        if b.border and b.kind == "box" and b.parent is not None and (
                max(abs(int(u) - int(v)) for u, v in zip(b.fill, boxes[b.parent].fill)) >= 12 or b.w >= 40):
            ox, oy, ow, oh = b.outer()
            ox, oy = max(0, ox), max(0, oy)
            text[oy:b.y, ox:ox + ow] = False
            text[b.bottom:oy + oh, ox:ox + ow] = False
            text[oy:oy + oh, ox:b.x] = False
            text[oy:oy + oh, b.right:ox + ow] = False
    for i in indicators:
        text[max(0, i.y - 1):i.y + i.h + 1, max(0, i.x - 1):i.x + i.w + 1] = False
    for a in boxes:
        if a.kind == "arrow":
            text[max(0, a.y - 2):a.bottom + 2, max(0, a.x - 2):a.right + 2] = False
    for x, y, w, h in carets:
        text[y:y + h, x:x + w] = False
    owner_img = np.full((H, W), -1, np.int32)
    for k in sorted(range(len(boxes)), key=lambda k: -(boxes[k].w * boxes[k].h)):
        b = boxes[k]
        if b.kind == "box":
            cv2.rectangle(owner_img, (b.x, b.y), (b.right - 1, b.bottom - 1), k, -1)

    def owner(x: int, y: int, w: int, h: int) -> int | None:
        """The innermost box holding the whole blob (a letter's centre may lie in its own hole)."""
        v = int(owner_img[min(H - 1, y + h // 2), min(W - 1, x + w // 2)])
        while v >= 0:
            b = boxes[v]
            if b.x <= x and b.y <= y and x + w <= b.right and y + h <= b.bottom:
                return v
            v = -1 if b.parent is None else b.parent
        return None

    lines = []
    for x, y, w, h, box in group_lines(text, owner):
        behind = tuple(int(v) for v in bg[y + h // 2, x])
        diff = np.abs(rgb[y:y + h, x:x + w].astype(np.int16) - np.array(behind, np.int16)).max(axis=2)
        lines.append(Line(x, y, w, h, behind, float(np.percentile(diff, 97)), box,
                          float(text[y:y + h, x:x + w].mean())))
    return Layout(boxes, indicators, lines, carets, default)
