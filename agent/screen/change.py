"""Did the screen really change? Motion (a blinking caret, a busy spinner) is not progress.

``frames_differ`` answers "is any pixel different", which is what settling needs. Stagnation needs
another question: did an action *do* anything? A screen always has something moving by itself — a
caret blinking in the focused field, a spinner or throbber in a toolbar, a clock — and counting that
as a change means a model that keeps pressing a dead button is never caught.

The rule: changed pixels are grouped into regions (pixels closer than ``JOIN`` px belong to the same
region, so the glyphs of one line of text make one region), and a change is *real* when one region's
bounding box covers at least ``MOTION_FRACTION`` of the screen, or all regions together cover at
least ``MOTION_TOTAL`` times that.

Why a thousandth of the screen (1024 px² at 1280x800, a 32x32 square; ~2070 px² at 1920x1080;
~8300 px² at 3840x2160, where a 2x HiDPI desktop draws everything four times as large): a caret is
1-2 px by one line (20-50 px²), a spinner or toolbar throbber 16-32 px square (256-1024 px²), while
what an action changes when it works is larger: a menu or a dialog (≥ 100x80 px), a tooltip or a
status message (a line of text, ≥ 100x15 px), a page, a selection highlight on a row or a button.
Relative to the screen because pixel sizes of UI scale with the display. The price: a repeated
action whose only effect is as small as a spinner (a checkbox tick alone, one typed character)
counts as no change; the stagnation rule needs the same action several times in a row on top of it,
so a person-sized task rarely meets it, and the model is warned before a run is stopped.

The same rule tells the settle after an action (``agent.screen.settle``) when drawing is over, so it is
cheap: ``classify`` answers from the box around all changes when it is small, and from the number of
changed pixels when there are many (a new page), and finds the regions only in between. A caret's
blink (``blink_like``: a line a few px thick) is never taken for the effect of an action.
"""

from __future__ import annotations

from PIL import Image, ImageChops

from agent.screen.capture import Frame, Region

#: A change region smaller than this share of the screen is motion, not progress (see above).
MOTION_FRACTION = 0.001
#: ... unless the small regions together cover this many times as much (many cells of a table updating).
MOTION_TOTAL = 4
#: Changed pixels at most this far apart belong to one region.
JOIN = 6
#: A caret is at most this many px thick (at 1080 lines; scaled with the screen's height) ...
CARET_THICK = 4
#: ... and at most this share of the screen's height long (a line of large text: 86 px at 1080 lines).
CARET_LONG = 0.08


def motion_limit(size: tuple[int, int]) -> float:
    """The smallest region area (px²) that counts as a real change on a screen of ``size``."""
    return MOTION_FRACTION * size[0] * size[1]


def _rgb(img: Image.Image) -> Image.Image:
    return img if img.mode == "RGB" else img.convert("RGB")


def _mask(a: Image.Image, b: Image.Image, tolerance: int) -> tuple[Image.Image | None, tuple[int, int, int, int]]:
    """The changed pixels (255) inside the box around all differences, and that box; (None, box) when
    nothing differs. All in C: ~3 ms at 1280x800 even when the whole screen changed."""
    diff = ImageChops.difference(_rgb(a), _rgb(b))
    box = diff.getbbox()
    if box is None:
        return None, (0, 0, 0, 0)
    r, g, bl = diff.crop(box).split()
    most = ImageChops.lighter(ImageChops.lighter(r, g), bl)  # the largest difference of the three channels
    t = max(0, min(255, tolerance))
    return most.point([0] * (t + 1) + [255] * (255 - t)), box


def _regions(mask: Image.Image, box: tuple[int, int, int, int]) -> list[Region]:
    import numpy as np

    return _regions_of(np.asarray(mask), box)


def _regions_of(m, box: tuple[int, ...]) -> list[Region]:  # noqa: ANN001 - a uint8 numpy mask of the box
    import cv2
    import numpy as np

    if not cv2.countNonZero(m):
        return []
    r = JOIN // 2  # dilate by r on every side: gaps of up to 2r px close
    padded = cv2.copyMakeBorder(m, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    grown = cv2.dilate(padded, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        # a pixel at x sits at x + r in the padded mask and grows to x there: the grown box's left is the
        # region's left in crop coordinates, its width the region's plus 2r
        out.append(Region(box[0] + x, box[1] + y, w - 2 * r, h - 2 * r))
    return out


def change_regions(a: Image.Image, b: Image.Image, *, tolerance: int = 0) -> list[Region]:
    """Bounding boxes (image coordinates) of the regions where ``a`` and ``b`` differ by more than
    ``tolerance`` in any channel; pixels up to ``JOIN`` px apart share a region. Images of different
    sizes are one region covering the larger."""
    if a.size != b.size:
        return [Region(0, 0, max(a.width, b.width), max(a.height, b.height))]
    mask, box = _mask(a, b, tolerance)
    return [] if mask is None else _regions(mask, box)


def is_real(regions: list[Region], size: tuple[int, int]) -> bool:
    """Do these change regions (``change_regions``) on a screen of ``size`` add up to a real change?"""
    limit = motion_limit(size)
    areas = [g.width * g.height for g in regions]
    return bool(areas) and (max(areas) >= limit or sum(areas) >= MOTION_TOTAL * limit)


def classify(a: Image.Image, b: Image.Image, *, tolerance: int = 0) -> tuple[bool, list[Region]]:
    """``(real_change(a, b), regions)``. The regions are exact when the change is motion; for a real
    change they may be just the box around it all (finding the regions of a whole page of new text
    costs tens of ms, and enough changed pixels settle the question without them)."""
    if a.size != b.size:
        return True, change_regions(a, b)
    mask, box = _mask(a, b, tolerance)
    if mask is None:
        return False, []
    whole = Region(box[0], box[1], box[2] - box[0], box[3] - box[1])
    limit = motion_limit(a.size)
    if whole.width * whole.height < limit:
        return False, [whole]  # everything that changed fits in a box smaller than the limit
    if mask.histogram()[255] >= MOTION_TOTAL * limit:
        return True, [whole]  # the regions' areas add up to at least the changed pixels: real
    regions = _regions(mask, box)
    return is_real(regions, a.size), regions


def classify_frames(a: Frame, b: Frame) -> tuple[bool, list[Region]]:
    """``classify`` of two captures, straight from their raw BGRX bytes when both have them (OpenCV on
    the grab's memory: ~3 ms at 1920x1080 where the images take ~15 ms)."""
    if a.raw is None or b.raw is None or a.size != b.size:
        return classify(a.image, b.image)
    import cv2
    import numpy as np

    w, h = a.size
    diff = cv2.absdiff(np.frombuffer(a.raw, np.uint8).reshape(h, w, 4), np.frombuffer(b.raw, np.uint8).reshape(h, w, 4))
    ch = cv2.split(diff)  # B, G, R and the unused fourth byte
    most = cv2.max(cv2.max(ch[0], ch[1]), ch[2])
    x, y, bw, bh = cv2.boundingRect(most)
    if bw == 0 or bh == 0:
        return False, []
    whole = Region(x, y, bw, bh)
    limit = motion_limit(a.size)
    if bw * bh < limit:
        return False, [whole]
    crop = most[y:y + bh, x:x + bw]
    if cv2.countNonZero(crop) >= MOTION_TOTAL * limit:
        return True, [whole]
    regions = _regions_of(crop, (x, y))
    return is_real(regions, a.size), regions


def real_change(a: Image.Image, b: Image.Image, *, tolerance: int = 0) -> bool:
    """True when ``b`` differs from ``a`` by more than motion (see the module docstring)."""
    return classify(a, b, tolerance=tolerance)[0]


def blink_like(region: Region, size: tuple[int, int]) -> bool:
    """Is this change region shaped like a text caret (a line 1-4 px thick and at most a text line
    long, upright or lying: ``CARET_THICK``, ``CARET_LONG``)? A caret blinks by itself, so its
    toggling says nothing about whether an action took effect."""
    thick = max(CARET_THICK, round(CARET_THICK * size[1] / 1080))  # HiDPI draws thicker carets
    return min(region.width, region.height) <= thick and max(region.width, region.height) <= CARET_LONG * size[1]
