"""Names, groups and rows: which text a person reads as the name of each control.

Why costs and not rules per layout: a person names a field by the text that sits *left of it on its
line*, *just above it*, or — when there is none — *inside it* (a grey placeholder). Each of these is
a candidate with a cost (the gap, plus a little for misalignment; a same-line label is a strong cue
even far away, as in a column of left-aligned labels), and every label goes to at most one field,
cheapest pair first, never across another control or another line of text in between. So a label
2 px above a spin box names the spin box, not the combobox 67 px further down, and the Notes label
above a 280 px box names that box whatever its height.

* Tick boxes and radios: the nearest text right of the box on its line, else left of it.
* Radio groups: radios on one row or column, a few steps apart, are one group; its caption is the
  title of the frame around them, else the text just above them, else the text left of the first.
* Table rows: lines of at least three items with two or more texts, stacked with aligned columns;
  every control in one gets ``row`` = the row's texts ("07:10 Oslo Bergen 6h 50m NOK 420").
"""

from __future__ import annotations

from agent.elements.regions import Box
from agent.elements.roles import FIELD_ROLES, Control, Text, hits, overlap, owner_of


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
            # left, on the field's line (for a tall box: beside its first line, or centred on it)
            band = (f.y - 2, max(f.y + max(30, 2.2 * t.h), f.y + f.h / 2 + t.h)) if tall else (f.y - 2, f.bottom + 2)
            gap = f.x - t.right
            if band[0] <= t.cy <= band[1] and -3 <= gap <= 320:
                if not hits(t.right, t.y, f.x, t.bottom, [o for o in others if o is not f]) and \
                        not hits(t.right + 1, t.y, f.x - 1, t.bottom, [o for o in free if o is not t]):
                    # same line: a strong cue even far away (a column of labels left-aligned)
                    pairs.append((0.25 * max(0, gap), f, t))
                continue
            # above, overlapping it horizontally
            vgap = f.y - t.bottom
            ov = overlap(t.x, t.right, f.x, f.right)
            if -3 <= vgap <= max(28, 2.5 * t.h) and ov >= 0.5 * min(t.w, f.w) and t.x >= f.x - max(12, t.h):
                x0, x1 = max(t.x, f.x), min(t.right, f.right)
                if not hits(x0, t.bottom, x1, f.y, [o for o in others if o is not f] +
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
            if (same_row or same_col) and not hits(min(a.right, b.right), min(a.y, b.y), max(a.x, b.x),
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
        k = owner_of(boxes, (x0 + x1) / 2, (y0 + y1) / 2)
        if k is not None and k in titles:
            caption = titles[k]
        if caption is None:
            above = [t for t in free if not t.used and -3 <= y0 - t.bottom <= max(30, 2.5 * t.h)
                     and t.x <= x1 and t.right >= x0 - 40 and t.x >= x0 - 60
                     and not hits(max(t.x, x0), t.bottom, min(t.right, x1), y0, controls)]
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
