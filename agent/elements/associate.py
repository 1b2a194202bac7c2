"""From boxes, indicators and read text lines to controls a person would name: roles, labels, groups, rows.

Why geometry and not per-app rules: a person names a field by the text that sits *left of it on its
line*, *just above it*, or — when there is none — *inside it* (a grey placeholder). Each of these is
a candidate with a cost (the gap, plus a little for misalignment), and every label goes to at most
one field, cheapest pair first, never across another control or another line of text in between.
So a label 2 px above a spin box names the spin box, not the combobox 67 px further down, and the
Notes label above a 280 px box names that box whatever its height.

* Roles: a box with a down triangle at its right end is a combobox, with up and down a spinbox; a
  tall bordered box without controls inside a textarea; a bordered one-line box a button when it
  looks pressed out (raised bevel, caption centred, not lighter than its parent) and an entry when
  it looks sunk in (sunken, empty or left-aligned text, lighter than its parent); a borderless box
  with controls inside is a container (a frame, a striped table row). Small squares are tick boxes,
  discs and diamonds radio buttons, named by the text right of them (or left, when none is right).
* Radio groups: radios on one row or column, a few steps apart, are one group; its caption is the
  title of the frame around them, else the text just above them, else the text left of the first.
* Table rows: lines of at least three items with two or more texts, stacked with aligned columns,
  are rows; every element in one gets ``row`` = the row's texts ("07:10 Oslo Bergen 6h 50m NOK 420").
* Dim text (well under the screen's usual ink contrast) is a placeholder inside an empty entry and
  a greyed-out caption elsewhere (the control is not "enabled").

Coordinates are image pixels; ``agent.elements.visual`` turns ``Control`` s into ``Element`` s.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from agent.elements.detect import Box, Indicator, Layout, lum

FIELD_ROLES = ("entry", "textarea", "combobox", "spinbox")
DIM = 0.62  # a line's contrast under this share of the screen's usual contrast is dim (grey)


@dataclass(eq=False)
class Text:
    x: int
    y: int
    w: int
    h: int
    text: str
    conf: float
    contrast: float
    box: int | None
    density: float = 0.0
    row: str | None = None
    role: str = ""  # what it became: inner (a control's own text), name, label, caption, title, cell
    dim: bool = False

    @property
    def used(self) -> bool:
        return bool(self.role)

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(eq=False)
class Control:
    role: str
    x: int
    y: int
    w: int
    h: int
    box: Box | None = None
    indicator: Indicator | None = None
    inner: list[Text] = field(default_factory=list)
    name: str = ""
    value: str | None = None
    label: Text | None = None
    group: str | None = None
    row: str | None = None
    placeholder: str | None = None
    states: set[str] = field(default_factory=set)

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _hits(x0: float, y0: float, x1: float, y1: float, things) -> bool:
    """Does any of ``things`` (with x, y, right, bottom) intersect the open rectangle?"""
    return any(t.x < x1 and x0 < t.right and t.y < y1 and y0 < t.bottom for t in things)


def _box_of(b: Box, boxes: list[Box]) -> int | None:
    return next((k for k, o in enumerate(boxes) if o is b), None)


def heading_test(texts: list[Text]):
    """``is_heading(text)``: much taller than the screen's usual line, or taller and bolder."""
    if not texts:
        return lambda t: False
    med_h = statistics.median(t.h for t in texts)
    med_d = statistics.median(t.density for t in texts)
    return lambda t: t.h > 1.35 * med_h or (t.h > 1.15 * med_h and t.density > 1.3 * med_d)


def classify(layout: Layout, texts: list[Text]) -> tuple[list[Control], list[int]]:
    """Controls from boxes and indicators; the indices of container boxes (frames, bands, windows)."""
    boxes = layout.boxes
    med_h = statistics.median([t.h for t in texts]) if texts else 12
    ref = sorted(t.contrast for t in texts)[int(0.9 * (len(texts) - 1))] if texts else 255
    for t in texts:
        t.dim = t.contrast < DIM * ref
    def hole(b: Box) -> bool:  # the inside of a letter, not a control
        return b.kind == "box" and (b.w < 16 or b.h < 10 or any(
            t.x <= b.x and t.y <= b.y and b.right <= t.right and b.bottom <= t.bottom for t in texts))

    children: dict[int, int] = {}
    for b in boxes:
        if b.parent is not None and b.kind in ("box", "indicator") and not hole(b):
            children[b.parent] = children.get(b.parent, 0) + 1
    for ind in layout.indicators:
        k = _owner(boxes, ind.x + ind.w / 2, ind.y + ind.h / 2, skip_small=True)
        if k is not None:
            children[k] = children.get(k, 0) + 1
    controls: list[Control] = []
    containers: list[int] = []
    tall_h = max(2.4 * med_h + 12, 44)
    for k, b in enumerate(boxes):
        if b.kind != "box":
            continue
        inner = sorted((t for t in texts if t.box == k), key=lambda t: (t.y, t.x))
        parent = boxes[b.parent] if b.parent is not None else None
        if parent is not None and hole(b):
            continue
        if parent is None or children.get(k) or (b.border == 0 and (b.h > tall_h or len(inner) > 1 or not inner)):
            containers.append(k)
            continue
        ox, oy, ow, oh = b.outer()
        c = Control("entry", ox, oy, ow, oh, box=b, inner=inner)
        if "down" in b.arrows and "up" in b.arrows:
            c.role = "spinbox"
        elif "down" in b.arrows:
            c.role = "combobox"
        elif b.h > tall_h:
            if b.bevel == "raised" and len(inner) == 1 and _centred(b, inner[0]):
                c.role = "button"
            else:
                c.role = "textarea"
        elif b.border == 0:  # a flat coloured button: one centred caption, a fill unlike its parent's
            if not (inner and _centred(b, inner[0]) and _contrast(b.fill, parent.fill) >= 40):
                containers.append(k)
                continue
            c.role = "button"
        else:
            c.role = "button" if _button_score(b, parent, inner) > 0 else "entry"
        for t in inner:
            t.role = "inner"
        controls.append(c)
    for ind in layout.indicators:
        c = Control("checkbox" if ind.shape == "square" else "radio", ind.x, ind.y, ind.w, ind.h, indicator=ind)
        if ind.checked:
            c.states.add("checked")
        controls.append(c)
    return controls, containers


def _owner(boxes: list[Box], cx: float, cy: float, skip_small: bool = False) -> int | None:
    best = None
    for k, b in enumerate(boxes):
        if b.kind != "box" or not (b.x <= cx < b.right and b.y <= cy < b.bottom):
            continue
        if skip_small and b.w <= 30 and b.h <= 30:
            continue
        if best is None or b.w * b.h < boxes[best].w * boxes[best].h:
            best = k
    return best


def _contrast(a, b) -> float:
    return max(abs(int(x) - int(y)) for x, y in zip(a, b))


def _centred(b: Box, t: Text) -> bool:
    left, right = t.x - b.x, b.right - t.right
    return left >= 3 and right >= 3 and abs(left - right) <= max(6, 0.15 * b.w)


def _button_score(b: Box, parent: Box, inner: list[Text]) -> float:
    """Positive: looks like a button; negative: like an entry (see the module docstring)."""
    s = {"raised": 2.0, "sunken": -2.0}.get(b.bevel, 0.0)
    if not inner:
        s -= 1.5
    else:
        t = inner[0]
        if _centred(b, t):
            s += 1.0
        elif t.x - b.x <= max(10, 0.6 * b.h):
            s -= 1.0
    s += -1.0 if lum(b.fill) >= lum(parent.fill) + 10 else 1.0
    if b.w > 8 * b.h:
        s -= 0.5
    return s


def fill_values(controls: list[Control], parent_fill) -> None:
    """Values from the text inside; a dim text in an empty-looking entry is its placeholder."""
    for c in controls:
        if c.box is None:
            continue
        words = [t.text for t in c.inner]
        if c.role == "button":
            c.name = " ".join(words)
            if c.inner and all(t.dim for t in c.inner):
                c.states.add("disabled")
            continue
        if c.role == "textarea":
            c.states.add("multiline")
            lines: list[list[Text]] = []
            for t in sorted(c.inner, key=lambda t: t.cy):
                if lines and abs(lines[-1][0].cy - t.cy) <= t.h / 2:
                    lines[-1].append(t)
                else:
                    lines.append([t])
            text = "\n".join(" ".join(x.text for x in sorted(ln, key=lambda t: t.x)) for ln in lines)
        else:
            text = " ".join(t.text for t in sorted(c.inner, key=lambda t: t.x))
        dim = bool(c.inner) and all(t.dim for t in c.inner)
        fill, pf = c.box.fill, parent_fill(c.box)
        if dim and _contrast(fill, pf) <= 8:
            c.states.add("disabled")
            c.value = text
        elif dim and c.role in ("entry", "textarea"):
            c.states.add("placeholder")
            c.value, c.name, c.placeholder = None, text, text
        else:
            c.value = text
        if c.role in ("entry", "textarea", "spinbox"):
            c.states.add("editable")


def name_indicators(controls: list[Control], free: list[Text]) -> None:
    """A tick box's or radio's name: the nearest text right of it on its line, else left of it."""
    pairs = []
    for c in controls:
        if c.indicator is None:
            continue
        reach = max(16, 1.8 * c.w)
        for t in free:
            if not (c.y - 4 <= t.cy <= c.bottom + 4) or t.h > 3.5 * c.h:
                continue
            if -2 <= t.x - c.right <= reach:
                pairs.append((t.x - c.right, c, t))
            elif -2 <= c.x - t.right <= reach:
                pairs.append((c.x - t.right + 6, c, t))  # left of the box: second choice
    named: set[int] = set()
    for _, c, t in sorted(pairs, key=lambda p: p[0]):
        if id(c) in named or t.used:
            continue
        named.add(id(c))
        t.role = "name"
        c.name, c.label = t.text, t
        if t.dim:
            c.states.add("disabled")
        x1, y1 = max(c.right, t.right) + 2, max(c.bottom, t.bottom) + 2
        c.x, c.y = min(c.x, t.x) - 2, min(c.y, t.y) - 2
        c.w, c.h = x1 - c.x, y1 - c.y


def label_fields(controls: list[Control], free: list[Text], is_heading) -> None:
    """Each field's label: left of it on its line or just above it; cheapest pairs first, one field a
    label. Headings (``is_heading``) name sections, not fields."""
    fields = [c for c in controls if c.role in FIELD_ROLES]
    others = [c for c in controls]
    pairs = []
    for f in fields:
        tall = f.role == "textarea"
        for t in free:
            if t.used or is_heading(t):
                continue
            # left, on the field's line (for a tall box: beside its first line)
            band = (f.y - 2, f.y + max(30, 2.2 * t.h)) if tall else (f.y - 2, f.bottom + 2)
            gap = f.x - t.right
            if band[0] <= t.cy <= band[1] and -3 <= gap <= 320:
                if not _hits(t.right, t.y, f.x, t.bottom, [o for o in others if o is not f]) and \
                        not _hits(t.right + 1, t.y, f.x - 1, t.bottom, [o for o in free if o is not t]):
                    # same line: a strong cue even far away (a column of labels left-aligned)
                    pairs.append((0.25 * max(0, gap), f, t))
                continue
            # above, overlapping it horizontally
            vgap = f.y - t.bottom
            ov = _overlap(t.x, t.right, f.x, f.right)
            if -3 <= vgap <= max(28, 2.5 * t.h) and ov >= 0.5 * min(t.w, f.w) and t.x >= f.x - max(12, t.h):
                x0, x1 = max(t.x, f.x), min(t.right, f.right)
                if not _hits(x0, t.bottom, x1, f.y, [o for o in others if o is not f] +
                             [o for o in free if o is not t]):
                    pairs.append((1.5 * max(0, vgap) + 0.3 * abs(t.x - f.x) + 4, f, t))
    done: set[int] = set()
    for _, f, t in sorted(pairs, key=lambda p: p[0]):
        if id(f) in done or t.used:
            continue
        done.add(id(f))
        t.role = "label"
        f.label = t
        f.name = t.text  # a placeholder inside stays out of the value either way


def group_radios(controls: list[Control], free: list[Text], boxes: list[Box], titles: dict[int, Text]) -> None:
    """Radios in one row or column are one group, named by a frame title, the text above, or left."""
    radios = sorted((c for c in controls if c.role == "radio"), key=lambda c: (c.y, c.x))
    parent = list(range(len(radios)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(radios):
        for j in range(i + 1, len(radios)):
            b = radios[j]
            ai, bi = a.indicator, b.indicator
            same_row = abs(ai.y - bi.y) <= ai.h / 2 and abs(ai.x - bi.x) <= 260
            same_col = abs(ai.x - bi.x) <= 4 and abs(ai.y - bi.y) <= 4 * ai.h + 30
            if (same_row or same_col) and not _hits(min(a.right, b.right), min(a.y, b.y), max(a.x, b.x),
                                                    max(a.bottom, b.bottom),
                                                    [c for c in controls if c.role != "radio"]):
                parent[find(j)] = find(i)
    groups: dict[int, list[Control]] = {}
    for i, r in enumerate(radios):
        groups.setdefault(find(i), []).append(r)
    for members in groups.values():
        x0, y0 = min(m.x for m in members), min(m.y for m in members)
        x1, y1 = max(m.right for m in members), max(m.bottom for m in members)
        caption = None
        k = _owner(boxes, (x0 + x1) / 2, (y0 + y1) / 2)
        if k is not None and k in titles:
            caption = titles[k]
        if caption is None:
            above = [t for t in free if not t.used and -3 <= y0 - t.bottom <= max(30, 2.5 * t.h)
                     and t.x <= x1 and t.right >= x0 - 40 and t.x >= x0 - 60
                     and not _hits(max(t.x, x0), t.bottom, min(t.right, x1), y0, controls)]
            left = [t for t in free if not t.used and y0 - 4 <= t.cy <= members[0].bottom + 4
                    and 0 <= x0 - t.right <= 200]
            caption = min(above, key=lambda t: y0 - t.bottom, default=None) or \
                max(left, key=lambda t: t.right, default=None)
            if caption is not None:
                caption.role = "caption"
        if caption is not None:
            for m in members:
                m.group = caption.text


def frame_titles(boxes: list[Box], containers: list[int], free: list[Text]) -> dict[int, Text]:
    """Texts sitting on a container's top edge (a labelled frame's title)."""
    out = {}
    for k in containers:
        b = boxes[k]
        if b.parent is None:
            continue
        for t in free:
            if not t.used and b.x <= t.x < b.right and t.y - 2 <= b.y - b.border <= t.bottom + 2:
                out[k] = t
                t.role = "title"
                break
    return out


def table_rows(controls: list[Control], free: list[Text]) -> list[tuple[tuple[int, int, int, int], str]]:
    """Rows of aligned cells; sets ``row`` on every control in one. Returns (bounds, text) per row."""
    items: list = [*controls, *(t for t in free if not t.used)]
    items.sort(key=lambda o: o.cy)
    bands: list[list] = []
    for o in items:
        if bands and any(abs(o.cy - p.cy) <= min(o.h, p.h) / 2 for p in bands[-1]):
            bands[-1].append(o)
        else:
            bands.append([o])
    def texts(band):
        return [o for o in band if isinstance(o, Text)]
    def cells(band):
        return len(band) >= 3 and len(texts(band)) >= 2
    def aligned(a, b) -> bool:
        lefts = [o.x for o in b]
        return sum(any(abs(o.x - x) <= 6 for x in lefts) for o in a) >= 2
    rows = []
    run: list[list] = []
    for band in bands + [[]]:
        if band and cells(band) and (not run or (aligned(run[-1], band) and
                                                 band[0].cy - run[-1][0].cy <= 3 * max(o.h for o in band))):
            run.append(band)
            continue
        if len(run) >= 2:
            for r in run:
                words = " ".join(t.text for t in sorted(texts(r), key=lambda t: t.x))
                for o in r:
                    if isinstance(o, Control):
                        o.row = words
                x0, y0 = min(o.x for o in r), min(o.y for o in r)
                x1, y1 = max(o.right for o in r), max(o.bottom for o in r)
                rows.append(((x0, y0, x1 - x0, y1 - y0), words))
                for t in texts(r):
                    t.role, t.row = "cell", words
        run = [band] if band and cells(band) else []
    return rows


def focus(controls: list[Control], carets: list[tuple[int, int, int, int]]) -> None:
    """A caret inside a field focuses it; else a field whose outer ring is much darker than those of
    its look-alikes (Tk's highlight ring) — only when exactly one stands out."""
    fields = [c for c in controls if c.role in FIELD_ROLES and c.box is not None]
    for x, y, w, h in carets:
        for f in fields:
            if f.x <= x < f.right and f.y <= y < f.bottom:
                f.states.add("focused")
                return
    rings = [f for f in fields if f.box.ring >= 0]
    if len(rings) >= 3:
        med = statistics.median(f.box.ring for f in rings)
        dark = [f for f in rings if f.box.ring < med - 60]
        if len(dark) == 1:
            dark[0].states.add("focused")
