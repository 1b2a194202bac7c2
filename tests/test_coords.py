"""Coordinate mapping between screen, screenshot and model spaces, both ways."""

import math

import pytest

from actions.coords import ImageMap, Rect, ScreenLayout, to_pixel
from actions.errors import OutOfBoundsError


def close(a, b, tol=1e-9):
    return all(math.isclose(x, y, abs_tol=tol) for x, y in zip(a, b))


def test_identity_capture():
    m = ImageMap.for_capture(Rect(0, 0, 1280, 800))
    assert (m.width, m.height) == (1280, 800)
    assert m.image_to_screen(100, 200) == (100, 200)
    assert m.screen_to_image(100, 200) == (100, 200)


def test_downscaled_screenshot_maps_back():
    m = ImageMap.for_capture(Rect(0, 0, 1920, 1080), max_size=(1280, 720))
    assert (m.width, m.height) == (1280, 720)
    assert close(m.image_to_screen(640, 360), (960, 540))
    assert close(m.screen_to_image(1919, 1079), (1919 / 1.5, 1079 / 1.5))


def test_never_upscales():
    m = ImageMap.for_capture(Rect(0, 0, 800, 600), max_size=(1920, 1080))
    assert (m.width, m.height) == (800, 600)


def test_monitor_offset_and_hidpi():
    # second monitor to the right of a 1920-wide one, Retina-like scale 2: the capture is 2x the
    # logical size, and image pixels map back to logical screen pixels on that monitor.
    area = Rect(1920, 0, 1440, 900)
    m = ImageMap.for_capture(area, scale=2.0)
    assert (m.width, m.height) == (2880, 1800)
    assert close(m.image_to_screen(0, 0), (1920, 0))
    assert close(m.image_to_screen(2880, 1800), (1920 + 1440, 900))
    assert close(m.image_to_screen(1000, 500), (1920 + 500, 250))
    # HiDPI + downscale for the model
    m2 = ImageMap.for_capture(area, scale=2.0, max_size=(1440, 900))
    assert (m2.width, m2.height) == (1440, 900)
    assert close(m2.image_to_screen(720, 450), (1920 + 720, 450))


def test_negative_offset_monitor():
    m = ImageMap.for_capture(Rect(-1280, -200, 1280, 1024))
    assert close(m.image_to_screen(0, 0), (-1280, -200))
    assert close(m.screen_to_image(-1, 823), (1279, 1023))


@pytest.mark.parametrize("area, scale, max_size", [
    (Rect(0, 0, 1280, 800), 1.0, None),
    (Rect(0, 0, 1920, 1080), 1.0, (1280, 720)),
    (Rect(1920, 0, 2560, 1440), 1.0, (1024, 1024)),
    (Rect(-1280, -200, 1280, 1024), 2.0, (1000, 1000)),
    (Rect(300, 200, 640, 400), 1.25, (320, 200)),
])
def test_round_trips_all_spaces(area, scale, max_size):
    m = ImageMap.for_capture(area, scale=scale, max_size=max_size)
    for sx, sy in [(area.left, area.top), (area.left + area.width / 3, area.top + area.height / 7),
                   (area.right - 1, area.bottom - 1)]:
        assert close(m.image_to_screen(*m.screen_to_image(sx, sy)), (sx, sy), 1e-6)
        assert close(m.normalized_to_screen(*m.screen_to_normalized(sx, sy)), (sx, sy), 1e-6)
        assert close(m.resized_to_screen(*m.screen_to_resized(sx, sy, (1092, 644)), (1092, 644)), (sx, sy), 1e-6)


def test_glm_thousandths_on_a_downscaled_shot():
    # GLM-4.5V answers [500, 250] on a 1280x720 version of a 1920x1080 screen: the centre-top quarter
    m = ImageMap.for_capture(Rect(0, 0, 1920, 1080), max_size=(1280, 720))
    assert close(m.normalized_to_screen(500, 250), (960, 270))
    assert to_pixel(*m.normalized_to_screen(999, 999)) == (1918, 1078)


def test_qwen_resized_pixels():
    # UI-TARS / Qwen2.5-VL: absolute pixels of the image it resized itself (1932x1092 for 1920x1080)
    m = ImageMap.for_capture(Rect(0, 0, 1920, 1080))
    assert close(m.resized_to_screen(966, 546, (1932, 1092)), (960, 540))


def test_layout_bounds_and_gaps():
    lay = ScreenLayout((Rect(0, 0, 1920, 1080), Rect(1920, 0, 1280, 800)))
    assert lay.bounds == Rect(0, 0, 3200, 1080)
    assert lay.contains(3199, 799)
    assert not lay.contains(3000, 900)  # below the smaller monitor: off-screen, not clamped
    assert lay.monitor_at(2000, 10) == 1
    with pytest.raises(OutOfBoundsError) as e:
        lay.check(3000, 900)
    assert "outside the screen" in str(e.value)
    with pytest.raises(OutOfBoundsError):
        ScreenLayout.single(1280, 800).check(1280, 0)  # right edge is exclusive
    with pytest.raises(OutOfBoundsError):
        ScreenLayout.single(1280, 800).check(-1, 5)


def test_to_pixel_floors():
    assert to_pixel(10.99, 5.5) == (10, 5)
    assert to_pixel(-0.5, -1.0) == (-1, -1)
