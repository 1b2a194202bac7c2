"""An in-format answer at the screenshot's far edge lands on the screenshot's last pixel, never one past
it: GLM-4.5V's thousandths (0-999, 1000 tolerated) and UI-TARS/Qwen's pixels (0..resized size) alike.
Interior points map exactly as before (tests/test_coords.py, tests/test_parsers.py)."""

from __future__ import annotations

import pytest

from actions.backends import DryRunBackend
from actions.coords import ImageMap, Rect, ScreenLayout, to_pixel
from actions.executor import Executor
from actions.safety import SafetyPolicy, always_yes
from actions.space import Click, Drag
from model.base import Completion
from model.glm45v import Glm45vFamily
from model.uitars import UITarsFamily, smart_resize

SCREEN = ImageMap(Rect(0, 0, 1280, 800), 1280, 800)


def parse(family, text: str, image_map: ImageMap = SCREEN):
    return family.parse(Completion(text=text, model="t", latency_s=0.0), image_map).action


def accepts(action, w: int = 1280, h: int = 800) -> bool:
    ex = Executor(DryRunBackend(ScreenLayout.single(w, h)), SafetyPolicy(), confirmer=always_yes)
    return ex.execute(action).ok


def test_glm_1000_1000_is_the_last_pixel_and_the_executor_accepts_it():
    click = parse(Glm45vFamily(), "<|begin_of_box|>left_click(start_box='[1000,1000]')<|end_of_box|>")
    assert click == Click(1279, 799)
    assert accepts(click)
    assert not accepts(Click(1280, 800))  # what it mapped to before: one past the last pixel


@pytest.mark.parametrize("size", [(640, 400), (1000, 625), (1280, 800)])
def test_glm_edges_at_every_downscale(size):
    m = ImageMap(Rect(0, 0, 1280, 800), *size)
    fam = Glm45vFamily()
    top_right = parse(fam, "left_click(start_box='[1000,0]')", m)
    assert (top_right.x, top_right.y) == (1279, 0)
    d = parse(fam, "left_drag(start_box='[0,0]', end_box='[1000,1000]')", m)
    assert d == Drag(0, 0, 1279, 799) and accepts(d)


def test_glm_edge_on_a_monitor_at_an_offset():
    right = ImageMap(Rect(1920, 0, 1280, 800), 640, 400)
    assert parse(Glm45vFamily(), "left_click(start_box='[1000,1000]')", right) == Click(3199, 799)
    left = ImageMap(Rect(-1280, 0, 1280, 1024), 1280, 1024)
    assert parse(Glm45vFamily(), "left_click(start_box='[1000,1000]')", left) == Click(-1, 1023)


def test_uitars_image_edge_is_the_last_pixel():
    rw, rh = smart_resize(800, 1280)[::-1]  # (1288, 812)
    click = parse(UITarsFamily(), f"Action: click(start_box='({rw},{rh})')")
    assert click == Click(1279, 799)
    assert accepts(click)


def test_interior_points_are_unchanged():
    fam = Glm45vFamily()
    near = parse(fam, "left_click(start_box='[999,999]')")
    assert (near.x, near.y) == (pytest.approx(1278.72), pytest.approx(799.2))
    assert to_pixel(near.x, near.y) == (1278, 799)
    assert parse(fam, "left_click(start_box='[500,500]')") == Click(640, 400)
    m = ImageMap(Rect(0, 0, 1920, 1080), 1280, 720)
    assert to_pixel(*m.normalized_to_screen(999, 999)) == (1918, 1078)


def test_on_area_moves_only_points_off_the_area():
    m = ImageMap(Rect(100, 50, 640, 400), 320, 200)
    assert m.on_area(739.5, 449.99) == (739.5, 449.99)  # on the last pixel already: unchanged
    assert m.on_area(740, 450) == (739, 449)            # the exclusive edge: the last pixel
    assert m.on_area(99.9, 10) == (100, 50)
