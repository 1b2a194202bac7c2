"""Screen capture (mss), downscaling, encoding and the plain "wait until frames stop changing".

The wait after an action (the first change, then a short quiet window; motion ignored) is
``agent.screen.settle``; ``wait_settled`` here is the simple wait for identical frames that a few
callers use for a screen nobody acted on.

Threading: a :class:`Screen` lazily opens ONE mss instance and reuses it.  mss (before 10.2)
is not thread-safe and its X connection belongs to the thread that opened it, so a Screen
must only be used on the thread that first captured with it; using it from another thread
raises RuntimeError.  Create one Screen per thread if you need several.
"""

from __future__ import annotations

import io
import os
import threading
import time
from dataclasses import dataclass, field

from PIL import Image, ImageChops

from model.base import png_bytes

__all__ = [
    "Frame",
    "Monitor",
    "Region",
    "Screen",
    "SettleResult",
    "downscale",
    "encode",
    "frames_differ",
    "wait_settled",
]

# Shrinking averages the pixels each new pixel covers (OpenCV's INTER_AREA): small UI text stays
# legible, as with Pillow's antialiasing BILINEAR, and 1920x1080 -> 1280x720 takes ~14 ms instead of
# ~26 ms (measured side by side on this project's busy 2-core machine; ~7 vs ~16 ms when idle).
# ``downscale(resample=...)`` with a Pillow filter uses Pillow instead.
DEFAULT_RESAMPLE = None


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle in screen coordinates (pixels)."""

    left: int
    top: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"region size must be non-negative, got {self.width}x{self.height}")

    @property
    def right(self) -> int:
        """Exclusive right edge."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """Exclusive bottom edge."""
        return self.top + self.height

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height

    def intersect(self, other: "Region") -> "Region | None":
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Region(left, top, right - left, bottom - top)


@dataclass(frozen=True, slots=True)
class Monitor:
    """A monitor as reported by mss; index 0 is the bounding box of the whole virtual desktop."""

    index: int
    left: int
    top: int
    width: int
    height: int

    @property
    def region(self) -> Region:
        return Region(self.left, self.top, self.width, self.height)


@dataclass(frozen=True)
class Frame:
    """One captured image (RGB) and where it was on screen. ``raw`` is the grab's own BGRX bytes when
    :meth:`Screen.capture` was asked to keep them: comparing two of them (``same_pixels``) costs a
    memcmp (~1 ms at 1920x1080) instead of a comparison of images."""

    image: Image.Image
    left: int
    top: int
    taken_at: float  # time.monotonic() right after the grab
    raw: bytes | bytearray | None = field(default=None, repr=False, compare=False)

    def __reduce__(self):  # noqa: ANN204 - pickled frames (the recorder's labeller process) leave raw behind
        return (Frame, (self.image, self.left, self.top, self.taken_at))

    def same_pixels(self, other: "Frame") -> bool:
        """True when both frames show exactly the same pixels at the same place."""
        if (self.left, self.top, self.size) != (other.left, other.top, other.size):
            return False
        if self.image is other.image or (self.raw is not None and self.raw is other.raw):
            return True
        if self.raw is not None and other.raw is not None:
            return self.raw == other.raw
        return not frames_differ(self.image, other.image)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    @property
    def region(self) -> Region:
        return Region(self.left, self.top, self.image.width, self.image.height)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The RGB colour at *screen* coordinates (x, y)."""
        if not self.region.contains(x, y):
            raise ValueError(f"({x}, {y}) is outside the frame {self.region}")
        return self.image.getpixel((x - self.left, y - self.top))  # type: ignore[return-value]


def _reuse_image_memory() -> None:
    """Let Pillow keep freed image memory for the next image instead of returning it to the system.

    A settle wait captures a frame every few milliseconds and drops it; by default Pillow frees each
    image's memory and the next capture faults fresh pages in: at 1920x1080 a capture then costs ~15 ms
    instead of ~4 ms (measured on this project's 2-core VM). Keeping up to 8 freed blocks (Pillow's
    ``PILLOW_BLOCKS_MAX``; a value set in the environment wins) holds at most that many image buffers.
    """
    if "PILLOW_BLOCKS_MAX" not in os.environ and Image.core.get_blocks_max() < 8:
        Image.core.set_blocks_max(8)


def _open_mss(display: str | None):  # noqa: ANN202
    import mss

    factory = getattr(mss, "MSS", None) or mss.mss  # mss.mss is deprecated in 10.2
    kwargs = {"display": display} if display else {}
    return factory(**kwargs)


class Screen:
    """Captures the X display ``display`` (default: ``$DISPLAY``). See the module docstring on threads."""

    def __init__(self, display: str | None = None) -> None:
        _reuse_image_memory()
        self.display = display
        self._sct = None
        self._thread: int | None = None
        self._damage = None  # a DamageWatch, False when the display has none, None before asking

    def _mss(self):  # noqa: ANN202
        me = threading.get_ident()
        if self._sct is None:
            try:
                self._sct = _open_mss(self.display)
            except Exception as e:  # mss raises ScreenShotError when the display cannot be opened
                where = self.display or "$DISPLAY"
                raise RuntimeError(f"cannot open X display {where} for screen capture: {e}") from e
            self._thread = me
        elif self._thread != me:
            raise RuntimeError("Screen used from a different thread than the one that created its mss instance; "
                               "create one Screen per thread")
        return self._sct

    def damage(self):  # noqa: ANN201 - DamageWatch | None
        """A watch over what is drawn on this display (``agent.screen.damage``), made once; None when the
        display cannot report it (the settle then polls)."""
        if self._damage is None:
            self._mss()  # the same thread rule
            from agent.screen.damage import DamageUnavailable, DamageWatch

            try:
                self._damage = DamageWatch(self.display)
            except DamageUnavailable:
                self._damage = False
        return self._damage or None

    def monitors(self) -> list[Monitor]:
        return [
            Monitor(i, int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"]))
            for i, m in enumerate(self._mss().monitors)
        ]

    def size(self) -> tuple[int, int]:
        """Size of the whole virtual desktop (mss monitor 0)."""
        m = self._mss().monitors[0]
        return int(m["width"]), int(m["height"])

    def capture(self, monitor: int = 0, region: Region | None = None, *, like: Frame | None = None,
                raw: bool = False) -> Frame:
        """Grab a monitor (0 = everything) or, if given, ``region`` (screen coordinates; clipped to the desktop).

        ``raw``: keep the grab's bytes in ``Frame.raw`` (as much memory again as the image; the settle
        wants them). ``like``: a recent frame with raw bytes; when the grab shows exactly its pixels the
        new frame shares its image (no conversion: a look at a still screen costs the grab and a
        comparison of bytes)."""
        sct = self._mss()
        mons = sct.monitors
        if region is not None:
            whole = mons[0]
            desk = Region(int(whole["left"]), int(whole["top"]), int(whole["width"]), int(whole["height"]))
            clipped = region.intersect(desk)
            if clipped is None:
                raise ValueError(f"region {region} lies outside the desktop {desk}")
            box = {"left": clipped.left, "top": clipped.top, "width": clipped.width, "height": clipped.height}
        else:
            if not 0 <= monitor < len(mons):
                raise ValueError(f"monitor {monitor} does not exist (have 0..{len(mons) - 1})")
            m = mons[monitor]
            box = {"left": int(m["left"]), "top": int(m["top"]), "width": int(m["width"]), "height": int(m["height"])}
        shot = sct.grab(box)
        taken = time.monotonic()
        left, top = int(shot.left), int(shot.top)
        if like is not None and (like.left, like.top, like.size) == (left, top, shot.size) and like.raw == shot.raw:
            return Frame(like.image, left, top, taken, like.raw)
        img = Image.frombytes("RGB", shot.size, shot.raw, "raw", "BGRX")
        return Frame(img, left, top, taken, shot.raw if raw or like is not None else None)

    def close(self) -> None:
        if self._damage:
            self._damage.close()
        self._damage = None
        if self._sct is not None:
            try:
                self._sct.close()
            finally:
                self._sct = None
                self._thread = None

    def __enter__(self) -> "Screen":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; close() is the real API
        try:
            if self._sct is not None and self._thread == threading.get_ident():
                self.close()
        except Exception:  # noqa: BLE001
            pass


def downscale(
    img: Image.Image,
    max_size: tuple[int, int] | None = None,
    *,
    factor: float | None = None,
    resample: Image.Resampling | None = DEFAULT_RESAMPLE,
) -> tuple[Image.Image, float]:
    """Shrink ``img`` to fit in ``max_size`` and/or by ``factor``, keeping the aspect ratio.

    Returns ``(image, scale)`` with ``scale = new / old`` (multiply screen coordinates by it;
    divide model coordinates by it).  Never upscales: if no shrinking is needed the original
    image object is returned with scale 1.0.
    """
    if max_size is None and factor is None:
        raise ValueError("downscale needs max_size or factor")
    w, h = img.size
    scale = 1.0
    if max_size is not None:
        mw, mh = max_size
        if mw <= 0 or mh <= 0:
            raise ValueError(f"max_size must be positive, got {max_size!r}")
        scale = min(scale, mw / w, mh / h)
    if factor is not None:
        if factor <= 0:
            raise ValueError(f"factor must be positive, got {factor!r}")
        scale = min(scale, float(factor))
    if scale >= 1.0:
        return img, 1.0
    nw = max(1, round(w * scale))
    nh = max(1, round(h * scale))
    if max_size is not None:
        nw, nh = min(nw, max_size[0]), min(nh, max_size[1])
    if resample is None:
        if img.mode in ("RGB", "L", "RGBA"):
            import cv2
            import numpy as np

            return Image.fromarray(cv2.resize(np.asarray(img), (nw, nh), interpolation=cv2.INTER_AREA)), scale
        resample = Image.Resampling.BOX  # Pillow's own area average
    return img.resize((nw, nh), resample), scale


def encode(img: Image.Image, fmt: str = "png", *, quality: int = 85) -> bytes:
    """Encode to PNG (fast: ``model.base.png_bytes``, the same bytes a model is sent) or JPEG (``quality``)."""
    f = fmt.lower().lstrip(".")
    if f == "png":
        return png_bytes(img)
    if f not in ("jpeg", "jpg"):
        raise ValueError(f"unsupported image format {fmt!r}: use 'png' or 'jpeg'")
    if not 1 <= quality <= 100:
        raise ValueError(f"jpeg quality must be in 1..100, got {quality}")
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def frames_differ(a: Image.Image, b: Image.Image, *, tolerance: int = 0) -> bool:
    """True if the images differ in size or any channel of any pixel by more than ``tolerance``.

    Full resolution (so a one-pixel change counts) but done in C: ~2 ms at 1920x1080.
    """
    if a.size != b.size:
        return True
    if a.mode != b.mode:
        b = b.convert(a.mode)
    if a.mode not in ("RGB", "L", "RGBA"):
        a, b = a.convert("RGB"), b.convert("RGB")
    diff = ImageChops.difference(a, b)
    if tolerance > 0:
        diff = diff.point(lambda v: 255 if v > tolerance else 0)
    return diff.getbbox() is not None


@dataclass(frozen=True)
class SettleResult:
    """How a wait for a still screen ended. ``frame`` is the latest capture. The rest is filled in by
    ``agent.screen.settle.settle``: ``first_change_s`` is when the first change after an action showed
    (None: none was waited for, or none came), ``quiet_s`` how long the screen had been still (but for
    motion) when the wait ended, ``moving`` the small regions that changed by themselves meanwhile
    (a caret, a spinner; screen coordinates)."""

    settled: bool
    waited_s: float
    frames: int
    frame: Frame
    first_change_s: float | None = None
    quiet_s: float | None = None
    moving: tuple[Region, ...] = ()


def wait_settled(
    screen: Screen,
    *,
    region: Region | None = None,
    monitor: int = 0,
    interval: float = 0.05,
    stable_for: float = 0.15,
    timeout: float = 3.0,
    tolerance: int = 0,
) -> SettleResult:
    """Capture until consecutive frames have been identical for ``stable_for`` seconds (any pixel
    counts, a blinking caret too: see ``agent.screen.settle`` for the wait after an action).

    Returns after about ``stable_for`` (+ capture time) on a static screen; gives up after
    ``timeout`` with ``settled=False``.  Either way ``frame`` is the latest capture.
    """
    start = time.monotonic()
    deadline = start + max(0.0, timeout)
    prev = screen.capture(monitor, region, raw=True)
    frames = 1
    stable_since = prev.taken_at
    while True:
        if frames >= 2 and prev.taken_at - stable_since >= stable_for:
            return SettleResult(True, time.monotonic() - start, frames, prev)
        now = time.monotonic()
        if now >= deadline:
            return SettleResult(False, now - start, frames, prev)
        wake = min(prev.taken_at + interval, max(stable_since + stable_for, now), deadline)
        if wake > now:
            time.sleep(wake - now)
        cur = screen.capture(monitor, region, like=prev, raw=True)
        frames += 1
        same = cur.same_pixels(prev) if tolerance == 0 else not frames_differ(prev.image, cur.image,
                                                                              tolerance=tolerance)
        if not same:
            stable_since = cur.taken_at
        prev = cur
