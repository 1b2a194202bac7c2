"""Stagnation: what counts as a real change of the screen, and runs of repeated actions or short cycles
of actions that bring no real change. Fast, no display (tests/test_stagnation_e2e.py drives a real
window through ``agent run``)."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from agent.screen import change_regions, motion_limit, real_change
from agent.stagnation import StagnationDetector

W, H = 1280, 800


def base() -> Image.Image:
    img = Image.new("RGB", (W, H), (236, 236, 236))
    d = ImageDraw.Draw(img)
    d.rectangle((300, 200, 760, 420), fill="white", outline="black")  # a window
    d.rectangle((320, 290, 440, 330), fill=(210, 210, 210), outline="black")  # a button
    d.rectangle((470, 290, 590, 330), fill=(210, 210, 210), outline="black")  # another
    return img


def with_caret(img: Image.Image, on: bool = True) -> Image.Image:
    out = img.copy()
    if on:
        ImageDraw.Draw(out).line((322, 226, 322, 247), fill="black")  # 1x22, one text line high
    return out


def with_spinner(img: Image.Image, angle: int) -> Image.Image:
    out = img.copy()
    ImageDraw.Draw(out).arc((702, 227, 722, 247), angle, angle + 90, fill=(48, 96, 192), width=3)  # 24 px box
    return out


def hover(img: Image.Image, which: int) -> Image.Image:
    """A button under the mouse drawn lighter (Tk's activebackground): a real change of ~4800 px²."""
    out = img.copy()
    left = 320 if which == 0 else 470
    ImageDraw.Draw(out).rectangle((left + 1, 291, left + 119, 329), fill=(240, 240, 240))
    return out


def menu(img: Image.Image, n: int) -> Image.Image:
    """A list that has grown to n + 1 rows: each row 200x18 px."""
    out = img.copy()
    d = ImageDraw.Draw(out)
    for i in range(n + 1):
        d.rectangle((320, 340 + 20 * i, 520, 357 + 20 * i), fill=(90 + 15 * (i % 8), 120, 200))
    return out


# --- a real change ---------------------------------------------------------------------------------

def test_the_threshold_is_a_thousandth_of_the_screen():
    assert motion_limit((1280, 800)) == pytest.approx(1024)    # a 32x32 square
    assert motion_limit((1920, 1080)) == pytest.approx(2073.6)  # ~45x45
    assert motion_limit((3840, 2160)) == pytest.approx(8294.4)  # 32x32 logical at 2x HiDPI, with margin


def test_caret_and_spinner_are_not_real_changes():
    a = base()
    assert not real_change(a, a.copy())
    assert not real_change(a, with_caret(a))
    assert not real_change(with_spinner(a, 0), with_spinner(a, 120))
    assert not real_change(with_caret(with_spinner(a, 0)), with_spinner(a, 200))
    regions = change_regions(a, with_caret(a))
    assert [(r.width, r.height) for r in regions] == [(1, 22)]


def test_real_changes_count():
    a = base()
    assert real_change(a, hover(a, 0))
    assert real_change(a, menu(a, 0))
    line = a.copy()
    ImageDraw.Draw(line).text((320, 360), "Saved report.txt to /home/user", fill="black")
    assert real_change(a, line)
    assert real_change(a, Image.new("RGB", (W, H - 1)))  # another size


def test_many_small_changes_together_are_real():
    """Forty digits updating all over a table: each tiny, together a real change."""
    a = base()
    b = a.copy()
    d = ImageDraw.Draw(b)
    for i in range(40):
        d.rectangle((20 + (i % 8) * 150, 450 + (i // 8) * 60, 28 + (i % 8) * 150, 462 + (i // 8) * 60), fill="black")
    assert all(r.width * r.height < motion_limit((W, H)) for r in change_regions(a, b))
    assert real_change(a, b)


# --- the detector ----------------------------------------------------------------------------------

def act(det: StagnationDetector, name: str, before: Image.Image, after: Image.Image):
    return det.update({"type": "click", "x": name}, f"left_click({name})", before, after)


def test_same_action_with_a_blinking_caret_warns_then_stops():
    det = StagnationDetector(warn=2, stop=4)
    a = base()
    levels = []
    screen = a
    for i in range(5):
        after = with_caret(with_spinner(a, 30 * i), on=i % 2 == 0)
        levels.append(act(det, "Alpha", screen, after).level)
        screen = after
    assert levels == ["ok", "ok", "warn", "warn", "stop"]
    s = act(det, "Alpha", screen, screen)
    assert s.period == 1 and "did not change" in s.feedback() and "Alpha" in s.reason()


def test_two_actions_alternating_without_progress_are_a_cycle():
    """Alpha, Beta, Alpha, Beta: each press moves the hover highlight (a real change between two
    screenshots), yet the screen keeps coming back to the same two states."""
    det = StagnationDetector(warn=2, stop=4)
    a = base()
    states = [hover(a, 0), hover(a, 1)]
    screen, levels = a, []
    for i in range(6):
        after = with_caret(states[i % 2], on=i % 3 == 0)
        s = act(det, ["Alpha", "Beta"][i % 2], screen, after)
        levels.append(s.level)
        screen = after
    assert levels == ["ok", "ok", "ok", "warn", "warn", "stop"]
    assert s.period == 2 and "Alpha" in s.reason() and "Beta" in s.reason()
    assert "did not change" in s.feedback()


def test_three_action_cycles_are_caught():
    det = StagnationDetector(warn=2, stop=4)
    a = base()
    states = [hover(a, 0), menu(a, 1), hover(a, 1)]
    screen, levels = a, []
    for i in range(9):
        after = states[i % 3]
        s = act(det, "ABC"[i % 3], screen, after)
        levels.append(s.level)
        screen = after
    assert levels == ["ok"] * 5 + ["warn"] * 3 + ["stop"]
    assert s.period == 3


def test_progress_resets_and_a_different_action_breaks_the_run():
    det = StagnationDetector(warn=2, stop=4)
    a = base()
    screen = a
    for i in range(8):  # the same action, and every time a new menu: progress
        after = menu(a, i)
        assert act(det, "Next", screen, after).level == "ok"
        screen = after
    for _ in range(2):
        act(det, "Next", screen, screen)
    assert act(det, "Next", screen, screen).level == "warn"
    assert act(det, "Other", screen, screen).level == "ok"  # A A A A B: no period 1, 2 or 3 pattern yet


def test_an_unknown_screen_resets():
    det = StagnationDetector(warn=2, stop=4)
    a = base()
    for _ in range(3):
        act(det, "Alpha", a, a)
    assert det.update({"type": "click", "x": "Alpha"}, "left_click(Alpha)", a, None).level == "ok"
    assert [act(det, "Alpha", a, a).level for _ in range(2)] == ["ok", "ok"]


def test_the_same_click_described_differently_is_the_same_action():
    det = StagnationDetector(warn=2, stop=4)
    a = base()
    levels = [det.update({"type": "click", "x": 5, "y": 5, "target": f"OK button {i}"}, "click", a, a).level
              for i in range(3)]
    assert levels == ["ok", "ok", "warn"]
