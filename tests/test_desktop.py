from __future__ import annotations

import os
import subprocess

import pytest

import agent.desktop.xvfb as desktop_mod
from agent.desktop import DesktopError, VirtualDesktop, parse_size, serve_forever

needs_xvfb = pytest.mark.skipif(desktop_mod.shutil.which("Xvfb") is None, reason="Xvfb not installed")


@pytest.mark.parametrize(
    "text,expected",
    [("1280x800", (1280, 800)), ("640X480", (640, 480)), (" 1920 x 1080 ", (1920, 1080))],
)
def test_parse_size_good(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "1280", "1280x", "x800", "0x800", "1280x0", "-1x5", "12.5x8", "axb", "1280x800x24"])
def test_parse_size_bad(text):
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_missing_xvfb_raises(monkeypatch):
    monkeypatch.setattr(desktop_mod.shutil, "which", lambda name: None)
    with pytest.raises(DesktopError, match="apt-get install xvfb"):
        VirtualDesktop().start()


def test_missing_window_manager_raises(monkeypatch):
    real_which = desktop_mod.shutil.which
    monkeypatch.setattr(desktop_mod.shutil, "which", lambda name: real_which(name) if name == "Xvfb" else None)
    desk = VirtualDesktop(window_manager=True)
    with pytest.raises(DesktopError, match="openbox"):
        desk.start()
    assert not desk.running


def _screen_dims(display: str) -> str:
    out = subprocess.run(["xdpyinfo", "-display", display], capture_output=True, text=True, timeout=10).stdout
    line = next(ln for ln in out.splitlines() if "dimensions:" in ln)
    return line.split()[1]


@needs_xvfb
def test_two_desktops_get_different_displays_and_stop_frees_them():
    with VirtualDesktop((640, 480)) as a, VirtualDesktop((800, 600), dpi=96) as b:
        assert a.display != b.display
        assert a.display.startswith(":") and b.display.startswith(":")
        assert a.env["DISPLAY"] == a.display and b.env["DISPLAY"] == b.display
        assert os.path.exists(f"/tmp/.X{a.number}-lock")
        assert _screen_dims(a.display) == "640x480"
        assert _screen_dims(b.display) == "800x600"
        n = a.number
    assert not a.running and not b.running
    assert not os.path.exists(f"/tmp/.X{n}-lock")
    assert not os.path.exists(f"/tmp/.X11-unix/X{n}")
    a.stop()  # idempotent


@needs_xvfb
def test_start_retries_when_display_taken_by_race(monkeypatch):
    # Pretend nothing is in use, so the first candidate collides with a running server.
    with VirtualDesktop((320, 240)) as first:
        monkeypatch.setattr(desktop_mod, "_FIRST_DISPLAY", first.number)
        monkeypatch.setattr(desktop_mod, "_display_in_use", lambda n: False)
        with VirtualDesktop((320, 240)) as second:
            assert second.number is not None and second.number > first.number
            assert second.running


@needs_xvfb
def test_stop_after_kill_removes_only_own_lock():
    desk = VirtualDesktop((320, 240)).start()
    n = desk.number
    desk._xvfb.kill()  # simulate a crash: Xvfb leaves its lock behind
    desk._xvfb.wait()
    assert os.path.exists(f"/tmp/.X{n}-lock")
    desk.stop()
    assert not os.path.exists(f"/tmp/.X{n}-lock")


@needs_xvfb
def test_serve_forever_stops_on_sigterm():
    import signal
    import threading

    lines: list[str] = []

    def fire():
        import time

        for _ in range(200):
            if any(ln.startswith("DISPLAY=") for ln in lines):
                break
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=fire)
    t.start()
    rc = serve_forever((320, 240), False, lines.append)
    t.join()
    assert rc == 0
    disp = next(ln for ln in lines if ln.startswith("DISPLAY=")).split("=", 1)[1]
    assert any(f"export DISPLAY={disp}" in ln for ln in lines)
    assert not os.path.exists(f"/tmp/.X{disp[1:]}-lock")


def test_xdisplay_fixture_sets_display(xdisplay):
    assert os.environ["DISPLAY"] == xdisplay.display
    assert xdisplay.size == (1280, 800)
    assert _screen_dims(xdisplay.display) == "1280x800"
