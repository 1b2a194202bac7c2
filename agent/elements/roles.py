"""Roles and states of what ``agent.elements.detect`` found: which box is an entry, a button, a combobox.

Why by look and not by size: a box with a down triangle at its right end is a combobox, with up and
down a spinbox; a tall bordered box without controls inside a textarea; a bordered one-line box a
button when it looks pressed out (raised bevel, caption centred, not lighter than its parent) and an
entry when it looks sunk in (sunken, empty or left-aligned text, lighter than its parent); a
borderless box with controls inside is a container (a frame, a striped table row). Small squares are
tick boxes, discs and diamonds radio buttons (``agent.elements.labels`` names them all).

States from pixels: a tick or dot inside (or a dark filled indicator) is checked; dim text (well
under the screen's usual ink contrast) is a placeholder inside an empty-looking entry and a greyed
caption elsewhere (the control is not enabled); a caret, or a focus ring much darker than those of
look-alike fields, is focus. Coordinates are image pixels.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from agent.elements.detect import Indicator, Layout
from agent.elements.regions import Box, lum


FIELD_ROLES = ("entry", "textarea", "combobox", "spinbox")
DIM = 0.62  # a line's contrast under this share of the screen's usual contrast is dim (grey)


@dataclass(eq=False)
class Text:
    """A line of text as read: where, what, how sure, how strong its ink, which box holds it."""

    x: int
    y: int
    w: int
    h: int
    text: str
    conf: float
    contrast: float
    box: int | None
    density: float = 0.0
    lit: bool = False  # on a selection band
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
    """A control being named: its role, bounds (image pixels), the box or indicator it came from,
    the texts inside it; ``name``, ``value``, ``group``, ``row`` and ``states`` are filled in steps."""

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
    of: "Control | None" = None  # the combobox an option belongs to
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


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def hits(x0: float, y0: float, x1: float, y1: float, things) -> bool:
    """Does any of ``things`` (with x, y, right, bottom) intersect the open rectangle?"""
    return any(t.x < x1 and x0 < t.right and t.y < y1 and y0 < t.bottom for t in things)


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

    # a selection band inside a bordered field (borderless, holding only text) is part of the field:
    # its text is the field's, marked lit (a list's selected option, a combobox's focused value)
    parents_of = {b.parent for b in boxes if b.kind == "box" and not hole(b)}
    for k, b in enumerate(boxes):
        if b.kind == "band" or (b.kind == "box" and b.border == 0 and b.parent is not None
                                and boxes[b.parent].border > 0 and k not in parents_of and not hole(b)):
            b.kind = "band"
            for t in texts:
                if t.box == k:
                    t.box, t.lit = b.parent, True

    children: dict[int, int] = {}
    for b in boxes:
        if b.parent is not None and b.kind in ("box", "indicator") and not hole(b):
            children[b.parent] = children.get(b.parent, 0) + 1
    for ind in layout.indicators:
        k = owner_of(boxes, ind.x + ind.w / 2, ind.y + ind.h / 2, skip_small=True)
        if k is not None:
            children[k] = children.get(k, 0) + 1
    controls: list[Control] = []
    containers: list[int] = []
    tall_h = max(2.4 * med_h + 12, 44)
    combos = [b for b in boxes if b.kind == "box" and b.arrows == ["down"]]
    lists: list[tuple[int, Box]] = []
    for k, b in enumerate(boxes):
        if b.kind != "box":
            continue
        inner = sorted((t for t in texts if t.box == k), key=lambda t: (t.y, t.x))
        parent = boxes[b.parent] if b.parent is not None else None
        if parent is not None and hole(b):
            continue
        under = _dropped_from(b, combos)
        if under is not None:  # an open drop-down list: its lines are the combobox's options
            containers.append(k)
            lists.append((k, under))
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
        if c.role in ("entry", "spinbox", "combobox") and b.w < 1.5 * b.h:
            continue  # narrower than tall: the visible sliver of something covered, not a field
        for t in inner:
            t.role = "inner"
        controls.append(c)
    for ind in layout.indicators:
        c = Control("checkbox" if ind.shape == "square" else "radio", ind.x, ind.y, ind.w, ind.h, indicator=ind)
        if ind.checked:
            c.states.add("checked")
        controls.append(c)
    for k, combo in lists:
        inner_list = any(j != k and boxes[j].x >= boxes[k].x and boxes[j].right <= boxes[k].right
                         and boxes[j].y >= boxes[k].y and boxes[j].bottom <= boxes[k].bottom for j, _ in lists)
        if inner_list:
            continue  # the pop-up's frame around the list (and its scroll bar): the list is inside
        of = next((c for c in controls if c.box is combo), None)
        controls += _options(k, boxes, texts, of)
    return controls, containers


def _dropped_from(b: Box, combos: list[Box]) -> Box | None:
    """The combobox whose list ``b`` is: a box that starts right under it, about as wide, taller."""
    for cb in combos:  # (the combobox's own region, not its outer border: a popup frames both)
        if -2 <= b.y - cb.bottom <= 12 and overlap(b.x, b.right, cb.x, cb.right) >= 0.6 * min(b.w, cb.w) \
                and b.h >= 1.5 * cb.h:
            return cb
    return None


def _options(k: int, boxes: list[Box], texts: list[Text], of: "Control | None") -> list["Control"]:
    """One option per line of the list box ``k`` (lines in a highlight box inside it are selected)."""
    b = boxes[k]

    def inside(j: int | None) -> bool:
        while j is not None:
            if j == k:
                return True
            j = boxes[j].parent
        return False

    out = []
    for t in sorted((t for t in texts if inside(t.box)), key=lambda t: t.y):
        t.role = "inner"
        o = Control("option", b.x, t.y - 3, b.w, t.h + 6, inner=[t], name=t.text, of=of)
        if t.lit or t.box != k:
            o.states.add("selected")
        out.append(o)
    return out


def owner_of(boxes: list[Box], cx: float, cy: float, skip_small: bool = False) -> int | None:
    """The index of the smallest box containing the point (``skip_small``: not an indicator's own)."""
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


def reading(texts: list[Text]) -> list[list[Text]]:
    """Texts in lines (sharing most of their height), top down, each line left to right."""
    lines: list[list[Text]] = []
    for t in sorted(texts, key=lambda t: t.cy):
        if lines and any(overlap(t.y, t.bottom, o.y, o.bottom) >= 0.5 * min(t.h, o.h) for o in lines[-1]):
            lines[-1].append(t)
        else:
            lines.append([t])
    return [sorted(ln, key=lambda t: t.x) for ln in lines]


def fill_values(controls: list[Control], parent_fill) -> None:
    """Values from the text inside; a dim text in an empty-looking entry is its placeholder."""
    for c in controls:
        if c.box is None:
            continue
        lines = reading(c.inner)
        words = [t.text for ln in lines for t in ln]
        if c.role == "button":
            c.name = " ".join(words)
            if c.inner and all(t.dim for t in c.inner):
                c.states.add("disabled")
            continue
        if c.role == "textarea":
            c.states.add("multiline")
            text = "\n".join(" ".join(t.text for t in ln) for ln in lines)
        else:
            text = " ".join(words)
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
