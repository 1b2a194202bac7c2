"""The live view (``agent desktop --view``): x11vnc + noVNC on 127.0.0.1, seen in headless Chromium.

A window opened on the virtual desktop must show up in noVNC's canvas (its size and its pixels);
the VNC server must demand a password that is on no command line; keys typed into a view-only
viewer must not reach the display, while with ``--view-control`` they do, so the agent's kill
hotkey pressed in the browser stops a running ``agent do``.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from agent.desktop.liveview import PACKAGES, LiveView, LiveViewError, missing_parts
from tests.browser import chromium

pytestmark = pytest.mark.display
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _needs_packages():
    missing = missing_parts()
    if missing:
        msg = f"live view needs {', '.join(missing)} (apt-get install {PACKAGES})"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


class Lines:
    """A subprocess's merged output, line by line, readable with a timeout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.q.put(line.rstrip("\n"))

    def until(self, test, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if test(line):
                return line
        raise AssertionError(f"no such line within {timeout} s; got:\n" + "\n".join(self.seen))


def _agent(*args: str, env: dict | None = None) -> subprocess.Popen:
    env = {**(env or os.environ), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "agent", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)


def _wait(driver, script: str, timeout: float = 30.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(script))


CANVAS = "document.querySelector('#noVNC_container canvas')"


def _press_kill_hotkey(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    canvas = driver.find_element("css selector", "#noVNC_container canvas")
    (ActionChains(driver).move_to_element(canvas).click().key_down(Keys.CONTROL).key_down(Keys.ALT).send_keys("k")
     .key_up(Keys.ALT).key_up(Keys.CONTROL).perform())


def _security_types(port: int) -> list[int]:
    """The RFB security types the VNC server offers (1 = none, 2 = VNC password)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        version = s.recv(12)
        assert version.startswith(b"RFB "), version
        s.sendall(b"RFB 003.008\n")
        n = s.recv(1)[0]
        return list(s.recv(n)) if n else []


def test_missing_packages_give_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LiveViewError, match="apt-get install x11vnc novnc websockify"):
        LiveView(":0").start()


def test_the_vnc_server_wants_a_password_that_no_command_line_shows(xdisplay):
    with LiveView(xdisplay.display) as view:
        assert view.running and view.url.startswith(f"http://127.0.0.1:{view.port}/vnc.html#")
        password = view.url.split("password=")[1]
        assert len(password) == 8 and "view_only=1" in view.url
        assert _security_types(view.vnc_port) == [2]  # VNC authentication, never "none"
        for proc in view._procs:  # noqa: SLF001 - the processes this test started through LiveView
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode("utf-8", "replace")
            assert password not in cmdline
        assert not list(Path(tempfile.gettempdir()).glob("desk-agent-vnc-*"))  # the password file is gone
        pids = [p.pid for p in view._procs]  # noqa: SLF001
        port, vnc_port = view.port, view.vnc_port
    assert not view.running
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    for p in (port, vnc_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", p), timeout=2).close()


def test_agent_desktop_view_shows_the_desktop_and_the_kill_hotkey_works_from_a_controlling_viewer(tmp_path):
    desk = _agent("desktop", "--view", "--size", "800x600")
    out = Lines(desk)
    try:
        display = out.until(lambda ln: ln.startswith("DISPLAY=")).split("=", 1)[1]
        url = out.until(lambda ln: "live view (view only" in ln).split(": ", 1)[1].split()[-1]
        out.until(lambda ln: ln.startswith("Press Ctrl-C"))
        env = {**os.environ, "DISPLAY": display}
        red = subprocess.Popen([sys.executable, "-c", "import tkinter as t; r = t.Tk(); r.title('red'); "
                                "r.geometry('300x200+50+60'); r.configure(bg='#ff0000'); r.mainloop()"], env=env)
        try:
            with chromium() as d:
                d.get(url)
                _wait(d, f"const c = {CANVAS}; return c && c.width === 800 && c.height === 600")
                pixel = f"Array.from({CANVAS}.getContext('2d').getImageData(200, 160, 1, 1).data).slice(0, 3)"
                _wait(d, f"const p = {pixel}; return p[0] > 240 && p[1] < 20 && p[2] < 20")
                assert "Connected" in d.find_element("id", "noVNC_status").get_attribute("textContent")
                keep = Path(os.environ.get("DESK_KEEP_SCREENS") or tmp_path)
                keep.mkdir(parents=True, exist_ok=True)
                d.save_screenshot(str(keep / "live-view.png"))
                # a running agent: its kill hotkey listener is up once it says so
                run = _agent("do", '{"type": "wait", "seconds": 120}', env=env)
                run_out = Lines(run)
                try:
                    run_out.until(lambda ln: ln.startswith("kill hotkey:"))
                    _press_kill_hotkey(d)  # view only: the keys never reach the display
                    time.sleep(3)
                    assert run.poll() is None, "\n".join(run_out.seen)
                    with LiveView(display, control=True) as ctl:
                        assert "view_only=0" in ctl.url
                        d.get(ctl.url)
                        _wait(d, f"const c = {CANVAS}; return c && c.width === 800")
                        _wait(d, "return document.getElementById('noVNC_status').textContent.includes('Connected')")
                        _press_kill_hotkey(d)
                        assert run.wait(timeout=30) == 3
                        run_out.until(lambda ln: "kill hotkey" in ln and "pressed" in ln, timeout=10)
                finally:
                    if run.poll() is None:
                        run.kill()
                        run.wait()
        finally:
            red.kill()
            red.wait()
    finally:
        desk.send_signal(signal.SIGTERM)
        assert desk.wait(timeout=30) == 0
        out.until(lambda ln: ln.startswith("Stopped"), timeout=10)
    port = int(url.split("127.0.0.1:")[1].split("/")[0])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_start_view_in_a_command_prints_the_url(xdisplay):
    """The one-liner the other commands use: ``start_view(stack, display, control)``."""
    from contextlib import ExitStack

    from agent.cli.common import start_view

    lines: list[str] = []
    with ExitStack() as stack:
        view = start_view(stack, xdisplay.display, True, print_fn=lines.append)
        assert view.running and view.control and len(lines) == 1 and view.url in lines[0]
        assert "watch and control" in lines[0]
    assert not view.running


def test_eval_and_do_on_a_virtual_desktop_print_a_live_view(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k != "DISPLAY"}
    r = subprocess.run([sys.executable, "-m", "agent", "eval", "widgets.click_n", "--view", "--out", str(tmp_path / "e")],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "live view of widgets.click_n-s0:" in r.stdout and "vnc.html#" in r.stdout, r.stdout
    r = subprocess.run([sys.executable, "-m", "agent", "do", "--virtual", "--view", "--no-kill-hotkey",
                        '{"type": "wait", "seconds": 0}'], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "vnc.html#" in r.stdout + r.stderr
