from __future__ import annotations

import io
import sys
import threading
import time

import pytest
from PIL import Image

from agent.screen import (
    Frame,
    Monitor,
    Region,
    SettleResult,
    downscale,
    encode,
    frames_differ,
    wait_settled,
)

# A borderless-by-default Tk window (no window manager => geometry honoured exactly).
TK_SOLID = """
import sys, tkinter as tk
root = tk.Tk()
root.title(sys.argv[1])
root.geometry(sys.argv[2])
root.configure(bg=sys.argv[3])
root.mainloop()
"""

# Alternates colours every 30 ms for `duration` seconds, then stays still.
TK_ANIM = """
import sys, time, tkinter as tk
root = tk.Tk()
root.title(sys.argv[1])
root.geometry("200x100+600+400")
root.configure(bg="blue")
end = time.monotonic() + float(sys.argv[2])
state = [0]
def tick():
    if time.monotonic() >= end:
        root.configure(bg="green")
        return
    state[0] ^= 1
    root.configure(bg=("red", "yellow")[state[0]])
    root.after(30, tick)
root.after(0, tick)
root.mainloop()
"""


# ---------------------------------------------------------------- pure functions
def test_region_contains_and_intersect():
    r = Region(10, 20, 30, 40)
    assert r.contains(10, 20) and r.contains(39, 59)
    assert not r.contains(40, 20) and not r.contains(10, 60) and not r.contains(9, 20)
    assert r.intersect(Region(0, 0, 20, 30)) == Region(10, 20, 10, 10)
    assert r.intersect(Region(100, 100, 5, 5)) is None
    with pytest.raises(ValueError):
        Region(0, 0, -1, 5)


def test_frame_properties():
    f = Frame(Image.new("RGB", (30, 20), (1, 2, 3)), 5, 7, 0.0)
    assert (f.width, f.height) == (30, 20)
    assert f.region == Region(5, 7, 30, 20)
    assert f.pixel(5, 7) == (1, 2, 3)
    with pytest.raises(ValueError):
        f.pixel(0, 0)


def test_downscale_exact_size_and_scale():
    img = Image.new("RGB", (1920, 1080), "white")
    out, scale = downscale(img, (1280, 720))
    assert out.size == (1280, 720)
    assert scale == pytest.approx(2 / 3)


def test_downscale_keeps_aspect_and_fits():
    img = Image.new("RGB", (1280, 800))
    out, scale = downscale(img, (1000, 1000))
    assert out.size == (1000, 625) and scale == pytest.approx(1000 / 1280)
    out, scale = downscale(img, factor=0.5)
    assert out.size == (640, 400) and scale == 0.5
    out, scale = downscale(img, (1000, 1000), factor=0.5)  # the stronger limit wins
    assert out.size == (640, 400)


def test_downscale_never_upscales():
    img = Image.new("RGB", (640, 400))
    out, scale = downscale(img, (1280, 800))
    assert out is img and scale == 1.0
    out, scale = downscale(img, factor=2.0)
    assert out.size == (640, 400) and scale == 1.0


def test_downscale_bad_args():
    img = Image.new("RGB", (10, 10))
    with pytest.raises(ValueError):
        downscale(img)
    with pytest.raises(ValueError):
        downscale(img, (0, 10))
    with pytest.raises(ValueError):
        downscale(img, factor=0)


@pytest.mark.parametrize("fmt,pil_fmt", [("png", "PNG"), ("jpeg", "JPEG"), ("JPG", "JPEG")])
def test_encode_roundtrip(fmt, pil_fmt):
    img = Image.new("RGB", (64, 48), (200, 10, 10))
    data = encode(img, fmt)
    back = Image.open(io.BytesIO(data))
    assert back.format == pil_fmt and back.size == (64, 48)
    if pil_fmt == "PNG":
        assert back.convert("RGB").tobytes() == img.tobytes()


def test_encode_rgba_as_jpeg_and_bad_format():
    assert encode(Image.new("RGBA", (8, 8)), "jpeg")[:2] == b"\xff\xd8"
    with pytest.raises(ValueError, match="unsupported image format"):
        encode(Image.new("RGB", (8, 8)), "gif")


def test_frames_differ():
    a = Image.new("RGB", (200, 100), (10, 10, 10))
    assert not frames_differ(a, a.copy())
    b = a.copy()
    b.putpixel((150, 70), (12, 10, 10))
    assert frames_differ(a, b)
    assert not frames_differ(a, b, tolerance=2)
    assert frames_differ(a, b, tolerance=1)
    assert frames_differ(a, Image.new("RGB", (201, 100)))


# ---------------------------------------------------------------- on the display
def test_monitors_and_size(screen):
    mons = screen.monitors()
    assert mons[0] == Monitor(0, 0, 0, 1280, 800)
    assert len(mons) >= 2
    assert screen.size() == (1280, 800)


def test_capture_whole_screen(screen):
    f = screen.capture()
    assert f.image.mode == "RGB"
    assert f.image.size == (1280, 800) and (f.left, f.top) == (0, 0)
    assert abs(f.taken_at - time.monotonic()) < 5


def test_capture_region_and_clipping(screen):
    f = screen.capture(region=Region(100, 50, 320, 200))
    assert f.size == (320, 200) and (f.left, f.top) == (100, 50)
    f = screen.capture(region=Region(1200, 750, 200, 200))  # clipped to the desktop
    assert f.region == Region(1200, 750, 80, 50)
    with pytest.raises(ValueError):
        screen.capture(region=Region(2000, 2000, 10, 10))
    with pytest.raises(ValueError):
        screen.capture(monitor=42)


def test_screen_is_bound_to_its_thread(screen):
    screen.capture(region=Region(0, 0, 4, 4))
    errors: list[BaseException] = []

    def other():
        try:
            screen.capture(region=Region(0, 0, 4, 4))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors and isinstance(errors[0], RuntimeError)


def test_red_window_pixel(screen, spawn_window):
    spawn_window([sys.executable, "-c", TK_SOLID, "red-probe", "200x100+300+200", "#ff0000"], title="red-probe")
    res = wait_settled(screen, region=Region(250, 150, 300, 200), timeout=5)
    assert res.settled
    f = screen.capture()
    assert f.pixel(400, 250) == (255, 0, 0)  # centre of the window
    assert f.pixel(300, 200) == (255, 0, 0)  # top-left corner
    assert f.pixel(499, 299) == (255, 0, 0)  # bottom-right corner
    assert f.pixel(299, 250) != (255, 0, 0)
    assert f.pixel(500, 250) != (255, 0, 0)
    r = screen.capture(region=Region(350, 225, 100, 50))
    assert r.image.getcolors() == [(100 * 50, (255, 0, 0))]


def test_wait_settled_static_returns_quickly(screen):
    res = wait_settled(screen, interval=0.05, stable_for=0.15, timeout=3.0)
    assert isinstance(res, SettleResult)
    assert res.settled
    assert res.frames >= 2
    assert 0.15 <= res.waited_s < 0.15 + 0.05 * 3
    assert res.frame.size == (1280, 800)


def test_wait_settled_zero_timeout_is_unsettled(screen):
    res = wait_settled(screen, timeout=0)
    assert not res.settled and res.frames == 1


def test_wait_settled_animation(screen, spawn_window):
    # stable_for=0.25 (> 8 animation ticks): a loaded CI box can stall the Tk process for
    # more than the default 0.15 s, which would look like a settled screen mid-animation.
    region = Region(550, 350, 300, 200)
    t0 = time.monotonic()
    spawn_window([sys.executable, "-c", TK_ANIM, "anim-probe", "1.0"], title="anim-probe")
    res = wait_settled(screen, region=region, stable_for=0.25, timeout=0.5)
    assert not res.settled
    assert 0.5 <= res.waited_s < 0.5 + 0.2
    assert res.frames >= 5
    res = wait_settled(screen, region=region, stable_for=0.25, timeout=3.0)
    assert res.settled
    assert res.frame.pixel(700, 450) == (0, 128, 0)  # Tk "green": the still colour after the animation
    assert time.monotonic() - t0 >= 1.0  # could only settle after the animation ended


# ---------------------------------------------------------------- speed helpers
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_png_bytes_is_lossless(mode):
    from model.base import ImagePart, png_bytes

    img = Image.effect_noise((97, 61), 64).convert(mode)  # noise: every row differs
    back = Image.open(io.BytesIO(png_bytes(img)))
    assert back.mode == img.mode and back.tobytes() == img.tobytes()
    part = ImagePart.from_image(img.convert("RGB"))
    assert part.data == encode(img.convert("RGB"), "png")  # the model's copy and the trajectory's: same bytes


def _grabbed(img: Image.Image) -> Frame:
    """A frame as ``Screen.capture`` makes it: with the grab's raw BGRX bytes."""
    import numpy as np

    rgb = np.asarray(img)
    bgrx = np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.zeros(rgb.shape[:2], np.uint8)])
    return Frame(img, 0, 0, 0.0, bgrx.tobytes())


def test_classify_agrees_with_the_regions():
    """The fast answers (a small box; enough changed pixels; the raw bytes of two grabs) agree with the
    full region analysis."""
    from agent.screen import change_regions, classify
    from agent.screen.change import classify_frames, is_real

    rng = __import__("random").Random(7)
    base = Image.new("RGB", (640, 400), (230, 230, 230))
    for _ in range(40):
        b = base.copy()
        for _ in range(rng.randint(1, 12)):
            x, y = rng.randrange(620), rng.randrange(380)
            w, h = rng.randint(1, 60), rng.randint(1, 30)
            b.paste((rng.randrange(256), 0, rng.randrange(3)), (x, y, min(640, x + w), min(400, y + h)))
        real, regions = classify(base, b)
        assert real == is_real(change_regions(base, b), base.size)
        assert classify_frames(_grabbed(base), _grabbed(b)) == (real, regions)
    assert classify(base, base.copy()) == (False, [])
    assert classify_frames(_grabbed(base), _grabbed(base.copy())) == (False, [])


def test_blink_like_is_a_caret_not_a_glyph():
    from agent.screen import blink_like

    assert blink_like(Region(10, 10, 1, 19), (1280, 800))  # a caret
    assert blink_like(Region(10, 10, 12, 2), (1280, 800))  # an underline caret
    assert not blink_like(Region(10, 10, 7, 19), (1280, 800))  # a typed character (and the caret moved)
    assert not blink_like(Region(10, 10, 2, 300), (1280, 800))  # a divider line, far longer than a text line
    assert blink_like(Region(10, 10, 6, 60), (3840, 2160))  # a HiDPI caret is thicker


def test_capture_like_shares_the_image_of_a_still_screen(screen):
    assert screen.capture().raw is None  # kept only when asked: it doubles the memory a frame holds
    a = screen.capture(raw=True)
    b = screen.capture(like=a)
    assert b.image is a.image and b.same_pixels(a) and b.taken_at >= a.taken_at
    other = Frame(a.image.copy(), 0, 0, 0.0)  # no raw bytes: compared as images
    assert other.same_pixels(a)
    assert not Frame(a.image, 1, 0, 0.0).same_pixels(a)  # elsewhere on the screen
    import pickle

    assert pickle.loads(pickle.dumps(a)).raw is None  # the raw grab is not shipped to other processes
