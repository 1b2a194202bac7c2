"""OpenCV detection of a screenshot's controls and text: indicators, text lines, carets.

Builds on ``agent.elements.regions`` (flat-coloured boxes, nested, with borders) and
``agent.elements.arrows`` (their drop-down and spin arrows), never on one app's pixel sizes:

* small square boxes are tick boxes, small discs or diamonds radio buttons — *isolated* ones with
  ink of their own inside (a letter's hole has the next letter a pixel or two away, and what shows
  through it is the parent's colour);
* ink is what differs from the colour behind it (each box painted with its own fill); without long
  straight strokes (rules, borders), boxes' own border rings, indicators and arrows, what is left is
  text: letters joined into words, words into lines when they share a band, sit in the same box and
  are less than about one letter height apart;
* a caret is a thin vertical bar reaching from the tops of the letters beside it to below their
  baseline; it is reported (focus) and kept out of the text (OCR would read it as "l").

Everything here is in image pixels of the array given; ``agent.elements.visual`` maps to the screen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from agent.elements.arrows import attach_arrows
from agent.elements.regions import (INDICATOR_SIZES, Box, extend_to_border, find_regions, join_bands,
                                    lum, maxdiff, measure_border, nest)


#: A stroke at least this long and straight is a border or rule, not a letter.
LINE_LEN = 25


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
    structure: "Structure | None" = None


def paint_background(shape: tuple[int, int], boxes: list[Box], default) -> np.ndarray:
    """An image of what lies *behind* each pixel: every box's fill, parents painted before children."""
    bg = np.empty((*shape, 3), np.uint8)
    cv2.rectangle(bg, (0, 0), (shape[1] - 1, shape[0] - 1), tuple(int(v) for v in default), -1)
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


def _longest_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``mask``: the length of its longest vertical run of True and the run's last row."""
    h, w = mask.shape
    padded = np.zeros((w, h + 2), np.int8)
    padded[:, 1:-1] = mask.T
    d = np.diff(padded, axis=1)
    sc, sr = np.nonzero(d == 1)  # run starts, column-major order
    _, er = np.nonzero(d == -1)  # run ends (exclusive), same order
    run = np.zeros(w, np.int32)
    end = np.zeros(w, np.int32)
    if len(sc):
        lengths = er - sr
        order = np.lexsort((lengths, sc))  # per column, the longest run last
        last = np.r_[sc[order][1:] != sc[order][:-1], True]
        cols = sc[order][last]
        run[cols] = lengths[order][last]
        end[cols] = er[order][last] - 1
    return run, end


def find_carets(ink: np.ndarray, boxes: list[Box]) -> list[tuple[int, int, int, int]]:
    """Text cursors: a thin vertical bar in a bordered box that reaches from the tops of the letters
    beside it to below their baseline (a caret spans the whole line; an "l" or a "d" stops at the
    baseline, a "j" starts at the x-height), or the only ink in an empty field."""
    out = []
    arrows = [a for a in boxes if a.kind == "arrow"]
    if arrows:  # a spinbox's or combobox's arrows are not letters beside a caret (they reach lower)
        ink = ink.copy()
        for a in arrows:
            ink[max(0, a.y - 2):a.bottom + 2, max(0, a.x - 2):a.right + 2] = False
    for b in boxes:
        if b.kind != "box" or b.border == 0 or b.w < 20 or b.h < 10:
            continue
        x0, y0 = b.x + 2, b.y + 1
        sub = ink[y0:b.bottom - 1, x0:b.right - 2]
        if not sub.any():
            continue
        run, end = _longest_runs(sub)
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
                # letters beside it whose strokes go on below its end: it stops above their baseline,
                # so it is a stroke of a letter ("R"'s bowl and leg), never a caret, which spans the line
                lower = bot + 1 < sub.shape[0] and int(np.count_nonzero(
                    (bottoms == seg.shape[0] - 1) & sub[bot + 1, cols])) >= 2
                if bot - top < float(np.median(bottoms)) + 2 or taller or lower:
                    continue  # ends on the baseline, or the letters beside it reach higher or lower: a letter
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


def mark_bands(rgb: np.ndarray, boxes: list[Box], ink: np.ndarray) -> None:
    """Boxes inside a one-line bordered field (a selection band, the holes of its letters) are part of
    that field: they do not own text (``kind = "band"``), and their colour is background there, not
    ink (a selection band is cut into pieces by the letters on it, so painting its pieces behind the
    text is not enough)."""
    def field_like(b: Box) -> bool:
        return b.kind == "box" and b.border > 0 and b.parent is not None and b.h <= 60 and b.w >= 2 * b.h

    for b in boxes:
        if b.kind != "box":
            continue
        p = b.parent
        while p is not None:
            f = boxes[p]
            if field_like(f):
                b.kind = "band"
                if max(abs(int(u) - int(v)) for u, v in zip(b.fill, f.fill)) > 12:
                    sub = ink[f.y:f.bottom, f.x:f.right]
                    sub &= maxdiff(rgb[f.y:f.bottom, f.x:f.right], np.full((f.h, f.w, 3), b.fill, np.uint8)) > 24
                break
            p = f.parent


@dataclass
class Structure:
    """The boxes of a screenshot (``agent.elements.regions``), before indicators and text: what an
    incremental snapshot keeps when the pixels that changed cannot have changed any box."""

    boxes: list[Box]
    discs: list[tuple[Box, str]]
    default: tuple[int, int, int]


def structure(rgb: np.ndarray) -> Structure:
    """Boxes nested, with borders (fields widened to theirs) and drop-down / spin arrows merged in."""
    rgb = np.ascontiguousarray(rgb)
    boxes, discs = find_regions(rgb)
    join_bands(rgb, boxes)
    nest(boxes)
    lo, hi = INDICATOR_SIZES
    grew = False
    for b in boxes:  # letters' holes need no border (they are never controls)
        if b.parent is not None and ((b.w >= 16 and b.h >= 10) or (lo <= b.w <= hi and lo <= b.h <= hi)):
            measure_border(rgb, b, boxes[b.parent].fill)
            if b.border and b.kind == "box":
                grew |= extend_to_border(rgb, b)
    if grew:  # a field grew over a selection band: the band is inside it now
        nest(boxes)
    attach_arrows(rgb, boxes)
    top = max(boxes, key=lambda b: b.w * b.h) if boxes else None
    default = top.fill if top is not None else tuple(int(v) for v in np.median(rgb.reshape(-1, 3)[::97], axis=0))
    return Structure(boxes, discs, default)


def detect(rgb: np.ndarray, known: Structure | None = None) -> Layout:
    """The controls and text lines of one screenshot (or a crop of one). With ``known`` (a structure
    of an earlier frame whose boxes the changes cannot have touched) the box pass is skipped; the rest
    runs as for a new frame, on copies, so the result is the same as a cold pass would give."""
    rgb = np.ascontiguousarray(rgb)
    H, W = rgb.shape[:2]
    st = known if known is not None else structure(rgb)
    boxes = [replace(b, arrows=list(b.arrows)) for b in st.boxes]
    discs = [(replace(b), shape) for b, shape in st.discs]
    default = st.default
    lo, hi = INDICATOR_SIZES
    # boxes too small to hold a line of text (a bold letter's stroke, a letter's hole, an arrow, a
    # tick box) are not painted behind text: a bold "0" is a flat dark rectangle, and painting it
    # would make its own pixels background
    bg = paint_background((H, W), [b for b in boxes if b.w >= 16 and b.h >= 10], default)
    ink = ink_mask(rgb, bg)

    def parent_fill(b: Box):
        around = [o for o in boxes if o is not b and o.x <= b.x and o.y <= b.y and b.right <= o.right
                  and b.bottom <= o.bottom and o.w * o.h > 2 * b.w * b.h]
        return min(around, key=lambda o: o.w * o.h).fill if around else default

    cands = [(b, "square") for b in boxes if b.kind == "box" and lo <= b.w <= hi and lo <= b.h <= hi
             and abs(b.w - b.h) <= 1] + discs
    taken: list[Box] = []
    found: list[tuple[int, Indicator]] = []  # by candidate order, once the bigger ones had their say
    for n, (b, shape) in sorted(enumerate(cands), key=lambda c: -(c[1][0].w * c[1][0].h)):
        if any(o.x <= b.x and o.y <= b.y and b.right <= o.right and b.bottom <= o.bottom for o in taken):
            continue  # inside an indicator already found: its mark (a radio's dot is a disc too)
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
        found.append((n, Indicator(ox, oy, ow, oh, shape, on, mark)))
        taken.append(b)
        if shape == "square":
            b.kind = "indicator"
    indicators = [ind for _, ind in sorted(found, key=lambda f: f[0])]
    mark_bands(rgb, boxes, ink)
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
            # a border ring the measure missed (a focus ring, a side blended with a selection band):
            # a line along a whole side, a pixel or two outside, is the border too, never a letter
            for x in (ox - 2, ox - 1, ox + ow, ox + ow + 1):
                if 0 <= x < W and text[b.y:b.bottom, x].mean() >= 0.8:
                    text[max(0, oy - 2):oy + oh + 2, x] = False
            for y in (oy - 2, oy - 1, oy + oh, oy + oh + 1):
                if 0 <= y < H and text[y, b.x:b.right].mean() >= 0.8:
                    text[y, max(0, ox - 2):ox + ow + 2] = False
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
        if b.kind == "box" and b.w >= 16 and b.h >= 10:
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
        # the colour behind the letters: the median of the pixels just around the line (on a selection band
        # that is the band's colour, whatever was painted behind it)
        patch = rgb[y:y + h, x:x + w].astype(np.int16)
        x0, y0, x1, y1 = max(0, x - 1), max(0, y - 1), min(W - 1, x + w), min(H - 1, y + h)
        rim = np.concatenate([rgb[y0, x0:x1 + 1], rgb[y1, x0:x1 + 1], rgb[y0:y1 + 1, x0], rgb[y0:y1 + 1, x1]])
        behind = tuple(int(v) for v in np.median(rim.astype(np.int16), axis=0))
        diff = np.abs(patch - np.array(behind, np.int16)).max(axis=2)
        lines.append(Line(x, y, w, h, behind, float(np.percentile(diff, 97)), box,
                          float(text[y:y + h, x:x + w].mean())))
    return Layout(boxes, indicators, lines, carets, default, st)
