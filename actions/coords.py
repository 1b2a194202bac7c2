"""Coordinate mapping: screen ↔ screenshot ↔ model space.

Wrong clicks under HiDPI and scaling are the most common complaint about peer agents, so every
conversion lives here, in one place, tested both ways.

Three spaces:

* **screen** — logical pixels, the space the executor (pyautogui) clicks in. Monitors sit at offsets
  in it (a second monitor may start at x=1920, or at a negative x).
* **image** — pixels of the screenshot *as sent* to a model. It covers one screen rectangle (the whole
  desktop, one monitor or a region) and may be smaller (downscaled) or larger (HiDPI: physical pixels
  are ``scale`` × logical pixels) than that rectangle.
* **model** — what a model answers in: GLM-4.5V gives thousandths (0–999/1000) of the image's width
  and height; UI-TARS / Qwen2.5-VL give absolute pixels of an image resized to its own size.

``ImageMap`` holds one screenshot's relation to the screen; everything else is a method on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.errors import OutOfBoundsError


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in screen coordinates; right and bottom are exclusive."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def __str__(self) -> str:
        return f"{self.width:g}x{self.height:g}+{self.left:g}+{self.top:g}"


@dataclass(frozen=True, slots=True)
class ScreenLayout:
    """The monitors of a desktop in logical screen coordinates, and the HiDPI scale
    (physical pixels per logical pixel; 2.0 on a Retina display, 1.0 on X11 as a rule)."""

    monitors: tuple[Rect, ...]
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.monitors:
            raise ValueError("a screen layout needs at least one monitor")
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")

    @classmethod
    def single(cls, width: float, height: float, scale: float = 1.0) -> "ScreenLayout":
        return cls((Rect(0, 0, width, height),), scale)

    @property
    def bounds(self) -> Rect:
        """The bounding box of all monitors (what mss calls monitor 0)."""
        left = min(m.left for m in self.monitors)
        top = min(m.top for m in self.monitors)
        right = max(m.right for m in self.monitors)
        bottom = max(m.bottom for m in self.monitors)
        return Rect(left, top, right - left, bottom - top)

    def contains(self, x: float, y: float) -> bool:
        """True when the point lies on a monitor (gaps between monitors of different sizes are off-screen)."""
        return any(m.contains(x, y) for m in self.monitors)

    def check(self, x: float, y: float) -> None:
        """Raise ``OutOfBoundsError`` for a point off every monitor. Never clamps."""
        if not self.contains(x, y):
            raise OutOfBoundsError(x, y, " + ".join(str(m) for m in self.monitors))

    def monitor_at(self, x: float, y: float) -> int | None:
        for i, m in enumerate(self.monitors):
            if m.contains(x, y):
                return i
        return None


@dataclass(frozen=True, slots=True)
class ImageMap:
    """How one screenshot's pixels relate to the screen.

    ``area`` is the screen rectangle (logical pixels) the image shows; ``width``/``height`` are the
    image's pixel size as sent. The ratio between them carries both HiDPI (image larger than the
    logical area) and downscaling (image smaller).
    """

    area: Rect
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.area.width <= 0 or self.area.height <= 0:
            raise ValueError(f"empty image map: {self.width}x{self.height} over {self.area}")

    @classmethod
    def for_capture(cls, area: Rect, scale: float = 1.0, max_size: tuple[int, int] | None = None) -> "ImageMap":
        """The map of a capture of ``area`` on a display of HiDPI ``scale``, downscaled to fit
        ``max_size`` (aspect kept, never upscaled) — the same arithmetic as ``agent.screen.downscale``."""
        w, h = round(area.width * scale), round(area.height * scale)
        if max_size is not None:
            f = min(max_size[0] / w, max_size[1] / h, 1.0)
            w, h = max(1, round(w * f)), max(1, round(h * f))
        return cls(area, w, h)

    def resized(self, width: int, height: int) -> "ImageMap":
        """The same area shown at another image size (after a further downscale)."""
        return ImageMap(self.area, width, height)

    @property
    def sx(self) -> float:
        """Screen pixels per image pixel along x."""
        return self.area.width / self.width

    @property
    def sy(self) -> float:
        return self.area.height / self.height

    # image pixels ------------------------------------------------------------------------------
    def image_to_screen(self, px: float, py: float) -> tuple[float, float]:
        return self.area.left + px * self.sx, self.area.top + py * self.sy

    def screen_to_image(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.area.left) / self.sx, (y - self.area.top) / self.sy

    def on_area(self, x: float, y: float) -> tuple[float, float]:
        """(x, y) kept on the area's pixels: a point on or past the exclusive right/bottom edge moves
        to the last pixel (``right - 1``), one before the left/top edge to the first. A point already
        on the area is returned as it is, so interior mappings never change."""
        a = self.area

        def keep(v: float, lo: float, hi: float) -> float:
            return lo if v < lo else max(lo, hi - 1) if v >= hi else v

        return keep(x, a.left, a.right), keep(y, a.top, a.bottom)

    # normalized (GLM-4.5V: thousandths of the image's width and height) -------------------------
    def normalized_to_screen(self, nx: float, ny: float, base: float = 1000.0) -> tuple[float, float]:
        """A model's thousandths to the screen. ``base`` itself (GLM-4.5V's tolerated 1000) is the
        image's far edge, one past its last pixel; it lands on the last pixel (``on_area``), so every
        in-range answer is a point of the screenshot."""
        return self.on_area(*self.image_to_screen(nx / base * self.width, ny / base * self.height))

    def screen_to_normalized(self, x: float, y: float, base: float = 1000.0) -> tuple[float, float]:
        px, py = self.screen_to_image(x, y)
        return px / self.width * base, py / self.height * base

    # absolute pixels of an image the model resized itself (UI-TARS / Qwen2.5-VL smart_resize) ----
    def resized_to_screen(self, rx: float, ry: float, resized: tuple[int, int]) -> tuple[float, float]:
        """Pixels of the model's resized image to the screen; its edge (x = resized width) lands on
        the last pixel, as in ``normalized_to_screen``."""
        return self.on_area(*self.image_to_screen(rx * self.width / resized[0], ry * self.height / resized[1]))

    def screen_to_resized(self, x: float, y: float, resized: tuple[int, int]) -> tuple[float, float]:
        px, py = self.screen_to_image(x, y)
        return px * resized[0] / self.width, py * resized[1] / self.height


def to_pixel(x: float, y: float) -> tuple[int, int]:
    """Round a continuous screen point to the pixel that contains it (floor, not round-half-even:
    a point 0.5 px inside a 1-px button must stay on the button)."""
    import math

    return math.floor(x), math.floor(y)
