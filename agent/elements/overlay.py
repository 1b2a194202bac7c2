"""Numbered boxes on a screenshot: what the agent sees, drawn for a person (``agent inspect
--overlay``) and for a model (Set-of-Mark prompting, where the model answers with a mark number).

Each element gets its box and a small numbered tag at its top-left corner, coloured by role family
(inputs blue, buttons and links orange, tick boxes green, everything else grey), so a person can tell
at a glance what the parse found and a model can name an element by its number. Tags are kept
inside the image and nudged so that they do not sit exactly on top of each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from actions.coords import ImageMap
from agent.elements.model import Element

_COLOURS = {
    "input": (25, 118, 210), "button": (230, 81, 0), "tick": (46, 125, 50), "other": (97, 97, 97),
}
_FAMILY = {
    "entry": "input", "textarea": "input", "combobox": "input", "spinbox": "input", "slider": "input",
    "button": "button", "link": "button", "toggle": "button", "tab": "button", "menuitem": "button",
    "listitem": "button", "option": "button",
    "checkbox": "tick", "radio": "tick",
}


def colour(role: str) -> tuple[int, int, int]:
    return _COLOURS[_FAMILY.get(role, "other")]


def _font(size: int) -> ImageFont.ImageFont:
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


def draw_marks(image: Image.Image, elements: Sequence[Element], image_map: ImageMap, *,
               labels: Sequence[str] | None = None, width: int = 2) -> Image.Image:
    """A copy of ``image`` with each element's box and tag (``labels[i]``, default ``1..n``) drawn.
    ``image_map`` maps the elements' screen coordinates onto this image (it may be downscaled)."""
    out = image.convert("RGB").copy()
    d = ImageDraw.Draw(out)
    font = _font(max(10, min(16, round(13 / max(image_map.sx, 0.5)))))
    tags = list(labels) if labels is not None else [str(i) for i in range(1, len(elements) + 1)]
    used: list[tuple[int, int]] = []
    for e, tag in zip(elements, tags):
        b = e.bounds
        x0, y0 = image_map.screen_to_image(b.left, b.top)
        x1, y1 = image_map.screen_to_image(b.right, b.bottom)
        c = colour(e.role)
        d.rectangle([x0, y0, max(x0 + 1, x1 - 1), max(y0 + 1, y1 - 1)], outline=c, width=width)
        tw, th = d.textbbox((0, 0), tag, font=font)[2:]
        tx, ty = int(max(0, min(out.width - tw - 4, x0))), int(max(0, y0 - th - 3))
        while (tx, ty) in used:  # two elements starting at one corner: keep both tags readable
            tx = min(out.width - tw - 4, tx + tw + 6)
        used.append((tx, ty))
        d.rectangle([tx, ty, tx + tw + 4, ty + th + 3], fill=c)
        d.text((tx + 2, ty + 1), tag, fill=(255, 255, 255), font=font)
    return out
