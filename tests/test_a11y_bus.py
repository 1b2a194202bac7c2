"""The accessibility bus a virtual desktop starts, the doctor's check of it, and the source without one."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

import agent.desktop.a11y_bus as bus_mod
from agent.desktop import VirtualDesktop
from agent.desktop.a11y_bus import AccessibilityBus, AccessibilityError, apply_env
from agent.desktop.doctor import Context
from agent.desktop.doctor_a11y import check_accessibility
from agent.elements import atspi_roles as R
from agent.elements.a11y import A11ySource
from agent.elements.atspi_dbus import A11yUnavailable, find_bus_address
from tests.a11y_apps import stop_group, wait_for

needs_xvfb = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb not installed")
needs_atspi = pytest.mark.skipif(not os.path.exists("/usr/libexec/at-spi-bus-launcher"),
                                 reason="at-spi2-core is not installed")


def alive_in_groups(pgids: list[int]) -> list[str]:
    """Live (non-zombie) processes whose process group is one of ``pgids``."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) in pgids:
            out.append(f"{pid} {stat[stat.find('(') + 1:stat.rfind(')')]}")
    return out


def test_protocol_numbers_match_the_atspi_typelib():
    gi = pytest.importorskip("gi")
    try:
        gi.require_version("Atspi", "2.0")
        from gi.repository import Atspi
    except (ValueError, ImportError):
        pytest.skip("gir1.2-atspi-2.0 is not installed")
    for i, name in enumerate(R.ROLE_NAMES):
        assert Atspi.Role(i).value_nick == name
    for i, name in enumerate(R.STATE_NAMES):
        assert Atspi.StateType(i).value_nick == name
    assert Atspi.RelationType.LABELLED_BY == R.LABELLED_BY and Atspi.RelationType.MEMBER_OF == R.MEMBER_OF
    assert R.our_role(R.ROLE["entry"], 1 << R.STATE["multi-line"]) == "textarea"
    assert R.our_role(R.ROLE["text"], 1 << R.STATE["editable"]) == "entry"
    assert R.our_role(R.ROLE["text"], 0) == "text"
    assert R.our_states(1 << R.STATE["sensitive"] | 1 << R.STATE["read-only"]) == {"enabled", "readonly"}


def test_apply_env_sets_removes_and_restores():
    target = {"KEEP": "1", "NO_AT_BRIDGE": "1", "GTK_MODULES": "old"}
    restore = apply_env({"GTK_MODULES": "gail:atk-bridge", "NO_AT_BRIDGE": None, "NEW": "x"}, target)
    assert target == {"KEEP": "1", "GTK_MODULES": "gail:atk-bridge", "NEW": "x"}
    restore()
    assert target == {"KEEP": "1", "NO_AT_BRIDGE": "1", "GTK_MODULES": "old"}


def test_a_missing_binary_names_its_package(monkeypatch):
    monkeypatch.setattr(bus_mod, "_BINARIES", (("/nonexistent/at-spi-bus-launcher", "at-spi2-core"),))
    with pytest.raises(AccessibilityError, match="apt-get install at-spi2-core"):
        AccessibilityBus(":999").start()


@needs_xvfb
@needs_atspi
def test_accessible_desktop_starts_publishes_and_stops_cleanly():
    pytest.importorskip("gi")
    t0 = time.monotonic()
    desk = VirtualDesktop((800, 600), accessibility=True).start()
    took = time.monotonic() - t0
    try:
        bus = desk.a11y
        assert bus is not None and bus.running and len(bus.pids) == 3
        env = desk.env
        assert env["DISPLAY"] == desk.display and env["GTK_MODULES"] == "gail:atk-bridge"
        assert env["ACCESSIBILITY_ENABLED"] == "1" and env["QT_LINUX_ACCESSIBILITY_ALWAYS_ON"] == "1"
        assert "NO_AT_BRIDGE" not in env and env["AT_SPI_BUS_ADDRESS"] == bus.address
        # the bus is found from the display alone (the launcher's property on the X root window)
        assert find_bus_address(desk.display, env={}) == bus.address
        src = A11ySource(desk.display)
        assert src.available and src.snapshot() == [] and src.applications() == []
        print(f"\naccessible desktop: Xvfb + bus {took * 1000:.0f} ms, of which the bus {bus.startup_s * 1000:.0f} ms")
        if shutil.which("yad"):
            app = subprocess.Popen(["yad", "--form", "--title=Bus check", "--field=Name", "x", "--geometry=300x150+10+10"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_for(lambda: any(e.role == "entry" and e.value == "x" for e in src.snapshot()), what="yad's entry")
                assert [a.name for a in src.applications()] == ["yad"]
                check = check_accessibility(Context(desk.display))
                assert check.status == "ok" and "yad" in check.detail, check
            finally:
                stop_group(app)
        src.close()
        pgids = list(bus.pids)
    finally:
        desk.stop()
    assert desk.a11y is None
    wait_for(lambda: not alive_in_groups(pgids), timeout=10, what="the bus processes to end")
    assert not os.path.exists(os.path.expanduser(f"~/.cache/at-spi/bus_{desk.display[1:]}"))


@needs_xvfb
@needs_atspi
def test_a_daemon_that_dies_while_starting_is_reported_and_nothing_is_left(monkeypatch):
    monkeypatch.setattr(bus_mod, "_REGISTRYD", "/bin/false")
    with VirtualDesktop((320, 240)) as desk:
        bus = AccessibilityBus(desk.display, timeout=10)
        with pytest.raises(AccessibilityError, match="at-spi2-registryd exited with status 1"):
            bus.start()
        assert bus.pids == [] and not bus.running


@needs_xvfb
def test_without_a_bus_the_source_says_why_and_the_doctor_warns():
    with VirtualDesktop((320, 240)) as desk:
        with pytest.raises(A11yUnavailable, match="agent desktop --a11y"):
            find_bus_address(desk.display, env={})
        src = A11ySource(desk.display)
        assert src.snapshot() == [] and src.element_at(10, 10) is None and src.focused() is None
        assert not src.available and "no accessibility bus" in (src.unavailable or "")
        assert src.last_notes and "no accessibility bus" in src.last_notes[0]
        model = src.model()
        assert len(model) == 0 and model.notes
        check = check_accessibility(Context(desk.display))
        assert check.status == "warn" and "agent desktop --a11y" in check.detail and check.data == {"bus": False}


@needs_xvfb
@needs_atspi
def test_agent_desktop_a11y_prints_the_variables_to_export():
    import signal
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "agent", "desktop", "--size", "320x240", "--a11y"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "300"})
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Ctrl-C" in ln for ln in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        text = "\n".join(lines)
        assert "export AT_SPI_BUS_ADDRESS='unix:" in text and "export GTK_MODULES='gail:atk-bridge'" in text, text
        assert "unset NO_AT_BRIDGE" in text and text.count("export DISPLAY=") == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0


@needs_xvfb
@needs_atspi
def test_doctor_names_windows_that_publish_no_tree():
    import sys

    pytest.importorskip("tkinter")
    with VirtualDesktop((640, 480), accessibility=True) as desk:
        code = "import tkinter as t; r=t.Tk(); r.title('Plain Tk'); r.geometry('300x200+20+20'); r.mainloop()"
        tk = subprocess.Popen([sys.executable, "-c", code], env=desk.env, start_new_session=True)
        try:
            src = A11ySource(desk.display)
            wait_for(lambda: any(t == "Plain Tk" for _, t in src.x_windows()), what="the Tk window")
            src.close()
            check = check_accessibility(Context(desk.display))
            assert check.status == "warn", check
            assert check.data["windows_without_tree"] == ["Plain Tk"]
            assert "'Plain Tk'" in check.detail and "Tk 8.6 publishes nothing" in check.detail
        finally:
            stop_group(tk)
