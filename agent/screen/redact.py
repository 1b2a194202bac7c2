"""Keep typed secrets out of saved screenshots.

A ``{{secret:NAME}}`` never reaches a log or a JSON file as text (``actions.secrets``), but a field
that shows what is typed (a card number, an API key box) would still put the value into every later
screenshot of a trajectory — and so into reports. ``SecretMasker`` closes that hole without OCR:

* right after a secret is typed, the pixels that changed between the settled frame before and the
  settled frame after typing are where the value is drawn; that box (padded) is remembered together
  with what it looked like before and after typing;
* every screenshot written afterwards shows the box as it was *before* typing (the empty field), as
  long as the box still looks the way it did after typing (the value is still on screen; a blinking
  caret or a hover changes only a few pixels); once the content there changed substantially (the
  page moved on), the mask is dropped.

The "before" look rather than a black box keeps recorded crops matchable at replay (the empty field
differs from the filled one by thin glyph strokes, a black block would dominate the correlation).
Where two secret boxes overlap, the later one is filled black: its "before" may show the first secret.
Over-masking is the safe failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

PAD = 6
#: Fraction of pixels in the box that may differ while the secret is taken to be still on screen.
SAME_CONTENT = 0.35


@dataclass
class _Region:
    box: tuple[int, int, int, int]  # frame pixels: left, top, right, bottom
    look: Image.Image  # the box right after typing (greyscale)
    blank: Image.Image | None  # the box before typing (RGB), or None: fill black


class SecretMasker:
    def __init__(self) -> None:
        self.regions: list[_Region] = []

    def typed_secret(self, before: Image.Image, after: Image.Image) -> tuple[int, int, int, int] | None:
        """Remember where a secret typed between these two frames is drawn. Returns the box, if any."""
        if before.size != after.size:
            return None
        bbox = ImageChops.difference(before.convert("L"), after.convert("L")).getbbox()
        if bbox is None:
            return None
        box = (max(0, bbox[0] - PAD), max(0, bbox[1] - PAD),
               min(after.width, bbox[2] + PAD), min(after.height, bbox[3] + PAD))
        overlaps = any(_intersect(box, r.box) for r in self.regions)
        blank = None if overlaps else before.convert("RGB").crop(box)
        self.regions.append(_Region(box, after.convert("L").crop(box), blank))
        return box

    def _still_shown(self, frame: Image.Image, r: _Region) -> bool:
        now = frame.convert("L").crop(r.box)
        diff = ImageChops.difference(now, r.look).point(lambda v: 255 if v > 24 else 0)
        changed = diff.histogram()[255]
        return changed <= SAME_CONTENT * r.look.width * r.look.height

    def apply(self, frame: Image.Image, image: Image.Image) -> Image.Image:
        """``image`` (``frame``, possibly downscaled) with every still-shown secret box blacked out.
        Regions whose content changed are forgotten."""
        if not self.regions:
            return image
        keep: list[_Region] = []
        out = image
        for r in self.regions:
            if not self._still_shown(frame, r):
                continue
            keep.append(r)
            if out is image:
                out = image.copy()
            sx, sy = image.width / frame.width, image.height / frame.height
            x0, y0, x1, y1 = r.box
            dst = (int(x0 * sx), int(y0 * sy), max(int(x0 * sx) + 1, round(x1 * sx)), max(int(y0 * sy) + 1, round(y1 * sy)))
            if r.blank is None:
                ImageDraw.Draw(out).rectangle([dst[0], dst[1], dst[2] - 1, dst[3] - 1], fill=(0, 0, 0))
            else:
                fill = r.blank.resize((dst[2] - dst[0], dst[3] - dst[1])) if (sx, sy) != (1, 1) else r.blank
                out.paste(fill.convert(out.mode), dst[:2])
        self.regions = keep
        return out


def _intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
