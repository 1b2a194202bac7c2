"""Replay anchors: what a recorded step keeps so the same target can be found again later.

A recorded click stores its target as an **image crop** around the point (plus where the point sits
inside the crop), the **OCR text** of the target when an OCR grounder is installed, and its position
**relative to the window** under the pointer. Replay looks for the crop first because it is exact,
offline and fast (~10 ms per scale at 1280x800), and because it does not care where the window went:
a moved window or a bigger screen only moves the match.

``TemplateGrounder`` implements ``model.grounding.Grounder`` with OpenCV ``matchTemplate``
(normalised cross-correlation on grey images) over several scales, so a recording made at one
screenshot scale (an ``agent run`` screenshot downscaled for the model, a HiDPI screen) still matches.
Ambiguity is an error, never a coin toss: when a second place scores as well as the first, the crop
is not distinctive; the caller then retries with a larger crop cut from the recorded screenshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from actions.coords import Rect
from model.grounding import AmbiguousMatch, ElementNotFound, Match, Query, Shot

#: The crop kept around a recorded click: wide enough to include a field's label, small enough to
#: survive a re-layout of the rest of the window.
CROP_SIZE = (200, 100)
#: Scales tried (template pixels → screen pixels), nearest to the expected one first.
SCALES = (1.0, 0.9, 1.1, 0.8, 1.25, 0.75, 1.5, 0.67, 2.0, 0.5)


@dataclass(frozen=True)
class Crop:
    """A crop of a screenshot and where the anchor point lies inside it (crop pixels)."""

    image: Image.Image
    offset: tuple[float, float]
    box: tuple[int, int, int, int]  # left, top, right, bottom in the source image


def crop_around(image: Image.Image, x: float, y: float, size: tuple[int, int] = CROP_SIZE,
                within: tuple[int, int, int, int] | None = None) -> Crop:
    """Cut ``size`` around image point (x, y), shifted (not shrunk) to stay inside the image and inside
    ``within`` (left, top, right, bottom: the target's window), so the desktop behind a window —
    different on the next machine — never becomes part of what is matched."""
    l0, t0, r0, b0 = 0, 0, image.width, image.height
    if within is not None:
        l0, t0 = max(l0, int(within[0])), max(t0, int(within[1]))
        r0, b0 = min(r0, int(within[2])), min(b0, int(within[3]))
        if r0 - l0 < 8 or b0 - t0 < 8 or not (l0 <= x < r0 and t0 <= y < b0):
            l0, t0, r0, b0 = 0, 0, image.width, image.height
    w, h = min(size[0], r0 - l0), min(size[1], b0 - t0)
    left = max(l0, min(int(round(x - w / 2)), r0 - w))
    top = max(t0, min(int(round(y - h / 2)), b0 - h))
    box = (left, top, left + w, top + h)
    return Crop(image.crop(box), (x - left, y - top), box)


def crop_boxes(boxes, crop_box: tuple[int, int, int, int]) -> list[list[int]]:
    """``boxes`` (left, top, right, bottom in the source image) that overlap ``crop_box``, clipped and
    in crop coordinates: the parts of a crop that were masked (a secret) and must not be matched."""
    cl, ct, cr, cb = crop_box
    out = []
    for x0, y0, x1, y1 in boxes:
        l, t, r, b = max(x0, cl), max(y0, ct), min(x1, cr), min(y1, cb)
        if r > l and b > t:
            out.append([l - cl, t - ct, r - cl, b - ct])
    return out


def match_mask(size: tuple[int, int], masked) -> np.ndarray | None:
    """A matchTemplate mask for a crop of ``size`` (w, h): 0 over the ``masked`` boxes, 255 elsewhere;
    None when nothing is masked."""
    if not masked:
        return None
    m = np.full((size[1], size[0]), 255, np.uint8)
    for x0, y0, x1, y1 in masked:
        m[max(0, int(y0)):int(y1), max(0, int(x0)):int(x1)] = 0
    return m if m.any() else None


def _grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.uint8)


def _peaks(result: np.ndarray, tw: int, th: int, n: int = 2) -> list[tuple[float, int, int]]:
    """The ``n`` best scores in a matchTemplate result, suppressing the template's footprint around each."""
    res = result.copy()
    out = []
    for _ in range(n):
        _, best, _, (bx, by) = _minmax(res)
        if not np.isfinite(best):
            break
        out.append((float(best), bx, by))
        res[max(0, by - th // 2): by + th // 2 + 1, max(0, bx - tw // 2): bx + tw // 2 + 1] = -1.0
    return out


def _minmax(res: np.ndarray):
    import cv2

    return cv2.minMaxLoc(res)


class TemplateGrounder:
    """Finds ``query.template`` on the shot at several scales (see the module docstring).

    ``scale_hint`` is the expected template→screen scale (e.g. 2.0 when the recorded screenshot was
    downscaled by half); scales are tried as multiples of it, best first, and the search stops early
    once a scale scores ``good_enough``.
    """

    name = "template"

    def __init__(self, *, scales: tuple[float, ...] = SCALES, good_enough: float = 0.97,
                 ambiguity_margin: float = 0.02) -> None:
        self.scales = scales
        self.good_enough = good_enough
        self.margin = ambiguity_margin

    def locate(self, shot: Shot, query: Query, *, scale_hint: float = 1.0, mask: np.ndarray | None = None) -> Match:
        """``mask`` (the template's size, 0 = ignore) leaves out parts of the template that were
        masked when it was recorded (a secret's box)."""
        import cv2

        if query.template is None:
            raise ElementNotFound(query, detail=" (no template to match)")
        hay = _grey(shot.image)
        tpl0 = _grey(query.template)
        if mask is not None and mask.shape != tpl0.shape:
            mask = None
        if float((tpl0 if mask is None else tpl0[mask > 0]).std()) < 2.0:
            raise ElementNotFound(query, detail=" (the recorded crop is a flat colour; nothing to match)")
        best: tuple[float, float, list[tuple[float, int, int]]] | None = None  # score, scale, peaks
        for s in self.scales:
            scale = s * scale_hint
            tw, th = round(tpl0.shape[1] * scale), round(tpl0.shape[0] * scale)
            if tw < 8 or th < 8 or tw > hay.shape[1] or th > hay.shape[0]:
                continue
            same = (tw, th) == (tpl0.shape[1], tpl0.shape[0])
            tpl = tpl0 if same else cv2.resize(
                tpl0, (tw, th), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            if mask is None:
                res = cv2.matchTemplate(hay, tpl, cv2.TM_CCOEFF_NORMED)
            else:
                m = mask if same else cv2.resize(mask, (tw, th), interpolation=cv2.INTER_NEAREST)
                res = np.nan_to_num(cv2.matchTemplate(hay, tpl, cv2.TM_CCOEFF_NORMED, mask=m), nan=-1.0,
                                    posinf=-1.0, neginf=-1.0)
            peaks = _peaks(res, tw, th)
            if peaks and (best is None or peaks[0][0] > best[0]):
                best = (peaks[0][0], scale, peaks)
            if best is not None and best[0] >= self.good_enough:
                break
        if best is None:
            raise ElementNotFound(query, detail=" (the crop is larger than the screen at every scale)")
        score, scale, peaks = best
        sx, sy = shot.map.sx, shot.map.sy  # image pixels per screen pixel

        def to_match(p: tuple[float, int, int]) -> Match:
            _, bx, by = p
            tw, th = tpl0.shape[1] * scale, tpl0.shape[0] * scale
            left, top = shot.map.image_to_screen(bx, by)
            return Match(Rect(left, top, tw / sx, th / sy), max(0.0, p[0]), self.name, query.text)

        first = to_match(peaks[0])
        if score < query.min_score:
            raise ElementNotFound(query, [first], detail=f" (best template score {score:.2f} < {query.min_score:.2f})")
        if len(peaks) > 1 and peaks[1][0] >= query.min_score and peaks[1][0] >= score - self.margin:
            raise AmbiguousMatch(query, [first, to_match(peaks[1])])
        return first


def score_at(image: Image.Image, tpl: Image.Image, offset: tuple[float, float], point: tuple[float, float],
             scale: float = 1.0, slack: int = 3, mask: np.ndarray | None = None) -> float:
    """How well ``tpl`` matches ``image`` placed so that its ``offset`` lies on ``point`` (image px),
    allowing ``slack`` pixels; -1 when it does not fit. Used to check that a larger crop's match is
    also a place where the smaller, recorded crop matches. ``mask`` as for ``TemplateGrounder``."""
    import cv2

    t = _grey(tpl)
    if mask is not None and mask.shape != t.shape:
        mask = None
    if abs(scale - 1) > 0.01:
        size = (max(1, round(t.shape[1] * scale)), max(1, round(t.shape[0] * scale)))
        t = cv2.resize(t, size)
        if mask is not None:
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    left = round(point[0] - offset[0] * scale) - slack
    top = round(point[1] - offset[1] * scale) - slack
    if left < 0 or top < 0:
        return -1.0
    patch = _grey(image.crop((left, top, left + t.shape[1] + 2 * slack, top + t.shape[0] + 2 * slack)))
    if patch.shape[0] < t.shape[0] or patch.shape[1] < t.shape[1] or float(t.std()) < 2.0:
        return -1.0
    res = cv2.matchTemplate(patch, t, cv2.TM_CCOEFF_NORMED, mask=mask) if mask is not None else \
        cv2.matchTemplate(patch, t, cv2.TM_CCOEFF_NORMED)
    return float(cv2.minMaxLoc(np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0))[1])


def anchor_point(match: Match, crop: Image.Image, offset: tuple[float, float]) -> tuple[float, float]:
    """The screen point that corresponds to ``offset`` inside a crop found at ``match``."""
    fx = match.box.width / crop.width
    fy = match.box.height / crop.height
    return match.box.left + offset[0] * fx, match.box.top + offset[1] * fy


def window_at(x: int, y: int) -> dict | None:
    """The top-level window under screen point (x, y): title, box and the point relative to it.
    Best effort (X11 only); None when it cannot be told."""
    try:
        from Xlib import X, display
    except ImportError:
        return None
    try:
        d = display.Display()
    except Exception:  # noqa: BLE001 - no X display
        return None
    try:
        root = d.screen().root
        best = None
        for child in root.query_tree().children:
            try:
                if child.get_attributes().map_state != X.IsViewable:
                    continue
                g = child.get_geometry()
                if g.x <= x < g.x + g.width and g.y <= y < g.y + g.height:
                    best = (child, g)  # later children are stacked above earlier ones
            except Exception:  # noqa: BLE001 - window vanished
                continue
        if best is None:
            return None
        child, g = best
        title = _title(d, child)
        return {"title": title, "box": [g.x, g.y, g.width, g.height], "rel": [x - g.x, y - g.y]}
    finally:
        d.close()


def _title(d, win) -> str | None:  # noqa: ANN001 - Xlib objects
    stack = [win]
    while stack:  # the title may sit on a child (a window manager's frame holds the client)
        w = stack.pop(0)
        try:
            name = w.get_wm_name()
            if name:
                return name.decode("latin-1") if isinstance(name, bytes) else str(name)
            stack.extend(w.query_tree().children)
        except Exception:  # noqa: BLE001
            continue
    return None
