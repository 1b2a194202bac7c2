"""``agent doctor``: the checks on a real virtual display, the calibration window's own record of
where clicks landed, and a display that does not exist (in a subprocess: pyautogui binds the
display at import, and this process already bound it to the fixture's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from agent.desktop.calibration import TITLE, find_targets, layout_targets, parse_geometry, parse_grid
from agent.desktop.doctor import CHECKS, Check, exit_code, render, run_checks
from tests.conftest import find_window

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["display", "screen & scale", "monitors", "input permission", "tools", "calibration"]


def read_until(path: Path, pred, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = json.loads(path.read_text())
            if pred(state):
                return state
        except (FileNotFoundError, json.JSONDecodeError):
            state = None
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never matched; last: {state}")
        time.sleep(0.01)


# pure helpers --------------------------------------------------------------------------------

def test_grid_geometry_and_layout_keep_the_margin():
    assert parse_grid("3x3") == (3, 3) and parse_grid(" 4X2 ") == (4, 2)
    assert parse_geometry("600x400+100+50") == (600, 400, 100, 50)
    for bad in ("0x3", "9x9", "3"):
        with pytest.raises(ValueError):
            parse_grid(bad)
    with pytest.raises(ValueError):
        parse_geometry("600x400")
    ts = layout_targets(1280, 800, 0, 0, 3, 3)
    assert [t.id for t in ts] == list(range(9))
    assert len({t.rgb for t in ts}) == 9
    assert min(t.x for t in ts) - 6 == 40 and max(t.x for t in ts) + 6 == 1280 - 1 - 40
    assert min(t.y for t in ts) - 6 == 40 and max(t.y for t in ts) + 6 == 800 - 1 - 40


def test_registry_order_and_exit_code():
    assert [c.name for c in CHECKS][: len(NAMES)] == NAMES
    assert exit_code([Check("a", "ok", ""), Check("b", "warn", ""), Check("c", "skip", "")]) == 0
    assert exit_code([Check("a", "ok", ""), Check("b", "fail", "")]) == 1


# on the virtual display --------------------------------------------------------------------------

@pytest.mark.display
def test_doctor_on_xvfb_all_pass_and_calibration_is_exact(xdisplay):
    t0 = time.monotonic()
    checks = run_checks(display=xdisplay.display)
    took = time.monotonic() - t0
    checks = [c for c in checks if c.name in NAMES]  # checks other modules registered (model endpoint)
    by = {c.name: c for c in checks}
    assert list(by) == NAMES
    assert all(c.status in ("ok", "warn") for c in checks), [(c.name, c.status, c.detail) for c in checks]
    assert exit_code(checks) == 0
    assert by["screen & scale"].data["input_size"] == [1280, 800] == by["screen & scale"].data["capture_size"]
    assert by["input permission"].data == {"XTEST": True, "RECORD": True, "pyautogui": True,
                                           "kill_hotkey_listener": True}
    cal = by["calibration"]
    assert cal.status == "ok", cal.detail
    assert cal.data["found"] == cal.data["clicked"] == cal.data["targets"] == 9
    assert cal.data["max_px"] <= 2
    for p in cal.data["passes"]:  # full size, then through a downscale to fit 960x600
        assert p["found"] == p["clicked"] == 9 and p["max_px"] <= p["tolerance_px"]
    assert cal.data["passes"][1]["image_size"] == [960, 600]
    assert cal.data["elapsed_s"] < 5
    print(f"doctor {took:.2f} s; calibration {cal.data['elapsed_s']:.2f} s, "
          f"mean {cal.data['mean_px']} px, max {cal.data['max_px']} px")
    assert find_window(xdisplay.display, TITLE) is None, "the calibration window was left open"

    console = Console(record=True, width=120)
    render(checks, console)
    text = console.export_text()
    for name in NAMES:
        assert name in text
    assert "Ready" in text


@pytest.mark.display
def test_calibration_catches_clicks_that_land_off_target(xdisplay, screen):
    """A backend whose clicks land 5 px right and 3 px down (what a wrong scale does) must fail."""
    from actions.backends import PyAutoGUIBackend
    from agent.desktop.calibration import measure

    class Skewed(PyAutoGUIBackend):
        def move(self, x: int, y: int) -> None:
            super().move(x + 5, y + 3)

    passes = measure(Skewed(), screen, display=xdisplay.display)
    assert [p.found for p in passes] == [9, 9]
    assert all(not p.ok for p in passes)
    assert all(abs(e - (5**2 + 3**2) ** 0.5) < 1e-6 for e in passes[0].errors.values())


@pytest.mark.display
def test_calibration_window_file_format(spawn_window, xdisplay, screen, tmp_path):
    out = tmp_path / "cal.json"
    proc = spawn_window([sys.executable, "-m", "agent.desktop.calibration", "--out", str(out), "--targets", "2x2",
                         "--geometry", "600x400+100+50", "--timeout", "20"], title=TITLE)
    state = read_until(out, lambda s: s["ready"])
    assert state["clicks"] == [] and state["geometry"] == [600, 400, 100, 50]
    targets = state["targets"]
    assert [t["id"] for t in targets] == [0, 1, 2, 3]
    for t in targets:  # screen coordinates, inside the window with the 40 px margin
        assert 100 + 40 <= t["x"] - 6 and t["x"] + 6 < 100 + 600 - 40
        assert 50 + 40 <= t["y"] - 6 and t["y"] + 6 < 50 + 400 - 40
    # The targets are where the file says, in the colour it says (the doctor finds them by colour).
    read_until(out, lambda s: True)
    deadline = time.monotonic() + 2
    while True:
        shot = screen.capture()
        if all(shot.pixel(t["x"], t["y"]) == tuple(t["rgb"]) for t in targets) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    centres, problems = find_targets(shot.image, {t["id"]: tuple(t["rgb"]) for t in targets})
    assert not problems
    for t in targets:
        assert centres[t["id"]] == (t["x"] + 0.5, t["y"] + 0.5)

    t0 = targets[0]
    subprocess.run(["xdotool", "mousemove", str(t0["x"]), str(t0["y"]), "click", "1"], env=xdisplay.env, check=True)
    state = read_until(out, lambda s: len(s["clicks"]) == 1)
    click = state["clicks"][0]
    assert (click["x_root"], click["y_root"]) == (t0["x"], t0["y"])
    assert abs(click["t"] - time.time()) < 5
    assert not list(tmp_path.glob("*.tmp")), "atomic write left a temporary file"
    subprocess.run(["xdotool", "key", "Escape"], env=xdisplay.env, check=True)
    assert proc.wait(timeout=5) == 0


@pytest.mark.display
def test_calibration_window_closes_itself_after_timeout(xdisplay, tmp_path):
    out = tmp_path / "cal.json"
    proc = subprocess.Popen([sys.executable, "-m", "agent.desktop.calibration", "--out", str(out), "--timeout", "0.5"],
                            env=xdisplay.env, cwd=ROOT)
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads(out.read_text())["ready"] is True


# no display --------------------------------------------------------------------------------------

_NO_DISPLAY_SCRIPT = """
import json, os, sys, time
from agent.desktop.doctor import exit_code, run_checks
out = {}
t = time.monotonic()
checks = run_checks(display=":987", calibrate=True)
out["missing"] = {"s": time.monotonic() - t, "code": exit_code(checks),
                  "checks": [[c.name, c.status, c.detail] for c in checks]}
os.environ.pop("DISPLAY")
checks = run_checks(display=None)
out["unset"] = {"code": exit_code(checks), "checks": [[c.name, c.status, c.detail] for c in checks]}
out["pyautogui_imported"] = "pyautogui" in sys.modules
print(json.dumps(out))
"""


def test_unreachable_display_fails_fast_with_a_hint(tmp_path):
    assert not Path("/tmp/.X11-unix/X987").exists(), "display :987 exists here; pick another number"
    env = dict(os.environ, DISPLAY=":987", PYTHONPATH=str(ROOT))
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", _NO_DISPLAY_SCRIPT], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert time.monotonic() - t0 < 10
    for case, what in (("missing", "cannot open X display :987"), ("unset", "DISPLAY is not set")):
        checks = out[case]["checks"]
        assert [c[0] for c in checks] == NAMES
        name, status, detail = checks[0]
        assert status == "fail" and what in detail and "`agent desktop`" in detail, detail
        assert all(c[1] == "skip" for c in checks[1:]), checks
        assert out[case]["code"] == 1
    assert out["missing"]["s"] < 3
    assert not out["pyautogui_imported"]


@pytest.mark.display
def test_xft_dpi_is_reported_as_hidpi(xdisplay):
    """Xft.dpi=192 (a 2x desktop) is read from the resource database and turns scale into a warning."""
    from Xlib import Xatom
    from Xlib import display as xlib_display

    from agent.desktop.doctor import Context, check_scale, xft_dpi

    d = xlib_display.Display(xdisplay.display)
    root = d.screen().root
    try:
        assert xft_dpi(d) is None
        root.change_property(Xatom.RESOURCE_MANAGER, Xatom.STRING, 8, b"Xft.dpi:\t192\nXcursor.size:\t48\n")
        d.sync()
        assert xft_dpi(d) == 192
        ctx = Context(xdisplay.display)
        try:
            c = check_scale(ctx)
        finally:
            ctx.close()
        assert c.status == "warn" and "Xft.dpi=192" in c.detail and c.data["xft_dpi"] == 192, c
        assert c.data["scale"] == 1.0  # X11: input and capture both stay in physical pixels
    finally:
        root.delete_property(Xatom.RESOURCE_MANAGER)
        d.sync()
        d.close()


@pytest.mark.display
def test_calibration_through_a_2x_retina_style_capture(xdisplay, screen):
    """Capture at twice the input resolution (macOS Retina: mss sees pixels, pyautogui points):
    targets found in the 2560x1600 image and mapped by ImageMap still land on the exact pixel."""
    from PIL import Image

    from actions.backends import PyAutoGUIBackend
    from agent.desktop.calibration import measure
    from agent.screen import Frame, Monitor

    class Retina:
        def monitors(self):
            return [Monitor(m.index, 2 * m.left, 2 * m.top, 2 * m.width, 2 * m.height) for m in screen.monitors()]

        def capture(self, monitor=0, region=None):
            f = screen.capture(monitor, region)
            img = f.image.resize((2 * f.width, 2 * f.height), Image.Resampling.NEAREST)
            return Frame(img, 2 * f.left, 2 * f.top, f.taken_at)

    passes = measure(PyAutoGUIBackend(), Retina(), display=xdisplay.display)
    assert [p.image_size for p in passes] == [(2560, 1600), (960, 600)]
    for p in passes:
        assert p.ok, p.to_json()
        assert max(p.errors.values()) == 0
