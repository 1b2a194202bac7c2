"""Merge the accessibility tree and the visual parse into one list of elements.

UFO² merges Windows UIA controls with a visual parser and drops duplicates by overlap; Agent S1 adds
OCR boxes for what the AT-SPI tree misses. The rules here:

* **Accessibility wins on names and bounds.** An app's own tree knows a control's label and exact
  box; pixels can only guess. A visual element that overlaps an accessible one of a compatible role
  (IoU ≥ ``SAME_IOU``, or one inside the other with the same role) is the same element: the
  accessible one is kept, marked ``source="both"``, and only fields it lacks (a missing name or
  value, the label's position, the row or group context) are filled in from the visual one.
* **Visual fills the gaps.** A visual element that matches nothing in the tree is kept — unless it
  lies inside a window whose application exposes a *rich* tree (``covered``), where an unmatched
  visual guess is more likely a decoration than a missed control; there only interactive visual
  elements that overlap no accessible element at all survive (a canvas widget the tree does not
  describe).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from actions.coords import Rect
from agent.elements.model import Element, INTERACTIVE, iou, overlap, sort_elements

#: Overlap (IoU) above which an accessible and a visual element are one element.
SAME_IOU = 0.5
#: Roles that describe the same kind of control for the merge (a visual "entry" is the tree's
#: "combobox" when the detector missed the arrow; a "toggle" is a "button" that stays pressed).
_COMPATIBLE = [
    {"entry", "textarea", "combobox", "spinbox"},
    {"button", "toggle", "link", "tab", "menuitem", "listitem", "option"},
    {"checkbox", "radio", "toggle"},
    {"label", "text", "heading"},
]


def compatible(a: str, b: str) -> bool:
    return a == b or any(a in g and b in g for g in _COMPATIBLE)


def _same(a: Element, v: Element) -> bool:
    if not compatible(a.role, v.role):
        return False
    if iou(a.bounds, v.bounds) >= SAME_IOU:
        return True
    return a.role == v.role and overlap(a.bounds, v.bounds) >= 0.9


def _fill(a: Element, v: Element) -> Element:
    """``a`` (accessible) with what it lacks taken from ``v`` (visual)."""
    changes = {"source": "both"}
    if not a.name and v.name:
        changes["name"] = v.name
    if a.value is None and v.value is not None and "password" not in {k for k, _ in a.attrs}:
        changes["value"] = v.value
    for key in ("label_bounds", "row", "group"):
        if getattr(a, key) is None and getattr(v, key) is not None:
            changes[key] = getattr(v, key)
    return a.with_(**changes, id=a.id)


def _inside_any(r: Rect, rects: Iterable[Rect]) -> bool:
    cx, cy = r.left + r.width / 2, r.top + r.height / 2
    return any(c.contains(cx, cy) for c in rects)


def merge(a11y: Sequence[Element], visual: Sequence[Element], *, covered: Sequence[Rect] = ()) -> tuple[Element, ...]:
    """One list of elements from both sources (module docstring), in reading order."""
    out = list(a11y)
    index = {id(e): i for i, e in enumerate(out)}
    for v in visual:
        twin = next((a for a in a11y if _same(a, v)), None)
        if twin is not None:
            i = index[id(twin)]
            out[i] = _fill(out[i], v)
            continue
        if covered and _inside_any(v.bounds, covered):
            if v.role not in INTERACTIVE or any(overlap(a.bounds, v.bounds) > 0.3 for a in a11y):
                continue
        out.append(v)
    return sort_elements(out)
