"""Keep typed secrets out of saved screenshots.

A ``{{secret:NAME}}`` never reaches a log or a JSON file as text (``actions.secrets``), but a field
that shows what is typed (a card number, an API key box) would still put the value into every later
screenshot of a trajectory — and so into reports. ``SecretMasker`` covers it:

* right after a secret is typed, the masker learns **the field's current bounds**: given by the
  caller when it knows the element typed into (the element model's focused element, the field under
  the click that focused it), else found on the frame as the closed rectangle around the point that
  was clicked to focus it, else the box of the pixels that changed while typing;
* every screenshot written afterwards shows that box as an opaque, labelled "secret" box, as long as
  the box still shows what it showed after typing (a blinking caret or a hover changes only a few
  pixels); once the content there changed substantially (the page moved on), the mask is dropped.

Never pasting older pixels is the point: a patch of an earlier screen put back over a later one
showed "No preference" on a page where "Window" was chosen — a screenshot that lies is worse than
one with a grey box. Over-masking is the safe failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from agent.screen.shapes import enclosing_box

PAD = 3
#: Fraction of pixels in the box that may differ while the secret is taken to be still on screen.
SAME_CONTENT = 0.35
FILL, EDGE, INK = (128, 128, 128), (90, 90, 90), (255, 255, 255)
LABEL = "secret"

Box = tuple[int, int, int, int]  # frame pixels: left, top, right, bottom


@dataclass
class _Region:
    box: Box
    look: Image.Image  # the box right after typing (greyscale)


def field_around(frame: Image.Image, point: tuple[int, int]) -> Box | None:
    """The input field under ``point`` (frame pixels) on ``frame``: the smallest closed rectangle
    holding it, or None."""
    x, y = point
    if not (0 <= x < frame.width and 0 <= y < frame.height):
        return None
    left, top = max(0, x - 320), max(0, y - 80)
    crop = frame.convert("L").crop((left, top, min(frame.width, x + 320), min(frame.height, y + 80)))
    b = enclosing_box(np.asarray(crop), x - left, y - top)
    if b is None:
        return None
    bx, by, bw, bh = b
    return left + bx, top + by, left + bx + bw, top + by + bh


class SecretMasker:
    def __init__(self) -> None:
        self.regions: list[_Region] = []

    def typed_secret(self, before: Image.Image, after: Image.Image, *, field: Box | None = None,
                     point: tuple[int, int] | None = None) -> Box | None:
        """Remember where a secret typed between these two frames is shown. ``field`` is the field's
        box when the caller knows it; ``point`` where the field was clicked. Returns the box, if any."""
        if before.size != after.size:
            return None
        changed = ImageChops.difference(before.convert("L"), after.convert("L")).getbbox()
        if field is None and point is not None:
            field = field_around(after, point)
        if field is None:
            if changed is None:
                return None
            field = changed
        box = (max(0, field[0] - PAD), max(0, field[1] - PAD),
               min(after.width, field[2] + PAD), min(after.height, field[3] + PAD))
        if box[2] <= box[0] or box[3] <= box[1]:
            return None
        self.regions.append(_Region(box, after.convert("L").crop(box)))
        return box

    def _still_shown(self, frame: Image.Image, r: _Region) -> bool:
        now = frame.convert("L").crop(r.box)
        diff = ImageChops.difference(now, r.look).point(lambda v: 255 if v > 24 else 0)
        changed = diff.histogram()[255]
        return changed <= SAME_CONTENT * r.look.width * r.look.height

    def boxes(self, frame: Image.Image) -> list[Box]:
        """The boxes that must be covered on ``frame`` now (forgetting those whose content changed)."""
        self.regions = [r for r in self.regions if self._still_shown(frame, r)]
        return [r.box for r in self.regions]

    def apply(self, frame: Image.Image, image: Image.Image) -> Image.Image:
        """``image`` (``frame``, possibly downscaled) with every still-shown secret box covered by an
        opaque labelled box. Regions whose content changed are forgotten."""
        if not self.regions:
            return image
        boxes = self.boxes(frame)
        if not boxes:
            return image
        out = image.copy()
        d = ImageDraw.Draw(out)
        sx, sy = image.width / frame.width, image.height / frame.height
        for x0, y0, x1, y1 in boxes:
            dst = (int(x0 * sx), int(y0 * sy), max(int(x0 * sx) + 1, round(x1 * sx)) - 1,
                   max(int(y0 * sy) + 1, round(y1 * sy)) - 1)
            d.rectangle(dst, fill=FILL, outline=EDGE)
            w, h = dst[2] - dst[0], dst[3] - dst[1]
            if w >= 44 and h >= 12:
                d.text((dst[0] + 4, dst[1] + max(0, h // 2 - 6)), LABEL, fill=INK)
        return out
