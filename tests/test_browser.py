"""The Chromium launcher on the session Xvfb (no window manager): the window appears where asked, the
page has loaded when it returns, ``stop()`` leaves no process and no profile, failures say why."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from agent.desktop.browser import BrowserError, launch_chromium

pytestmark = [pytest.mark.display,
              pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                 reason="chromium is not installed")]

PAGE = b"""<!doctype html><title>Launcher probe</title><body style="margin:0;background:#2060c0">
<p style="font-size:30px;color:#fff">probe page</p>
<script>window.addEventListener('load', () => fetch('/loaded?h=' + (outerHeight - innerHeight)));</script></body>"""


@pytest.fixture
def server():
    seen: list[str] = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            body = PAGE if self.path == "/" else b""
            self.send_response(200 if self.path == "/" else 204)
            if body:
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", seen
    httpd.shutdown()
    httpd.server_close()


def _pids_mentioning(text: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if text.encode() in (p / "cmdline").read_bytes():
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def test_window_appears_page_loads_and_stop_cleans_up(xdisplay, server):
    from agent.screen import Region, Screen

    url, seen = server
    b = launch_chromium(url, size=(640, 420), position=(100, 80), env=xdisplay.env,
                        ready=lambda: any(s.startswith("/loaded") for s in seen))
    profile = b.profile
    try:
        assert b.alive and b.box() == (100, 80, 640, 420)
        assert "/loaded?h=0" in seen, f"app mode has no browser chrome above the page: {seen}"
        assert len(b.group_pids()) >= 2 and profile.is_dir() and _pids_mentioning(str(profile))
        with Screen(xdisplay.display) as s:
            px = s.capture(0, Region(300, 300, 1, 1)).pixel(300, 300)
        assert px == (0x20, 0x60, 0xc0), f"the page is drawn inside the window: {px}"
    finally:
        b.stop()
    assert not b.alive and b.group_pids() == []
    assert not profile.exists() and _pids_mentioning(str(profile)) == []
    b.stop()  # idempotent


def test_normal_window_has_the_address_bar_and_a_devtools_port(xdisplay, server):
    url, seen = server
    with launch_chromium(url, size=(700, 500), position=(20, 20), app_mode=False, remote_debugging_port=0,
                         env=xdisplay.env, ready=lambda: any(s.startswith("/loaded") for s in seen)) as b:
        chrome = int(next(s for s in seen if s.startswith("/loaded")).split("=")[1])
        assert chrome > 40, "a normal window has tabs and an address bar above the page"
        assert b.debug_port and b.debug_port > 0
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{b.debug_port}/json/version", timeout=10) as r:
            assert b"Browser" in r.read()


def test_failures_are_typed_with_the_browser_output(tmp_path, server):
    url, _ = server
    env = dict(os.environ, DISPLAY=":31999")  # no X server there
    with pytest.raises(BrowserError, match="exited|did not") as e:
        launch_chromium(url, env=env, timeout=30)
    assert "X" in str(e.value) or "display" in str(e.value).lower()
    with pytest.raises(BrowserError, match="not installed"):
        launch_chromium(url, binary=str(tmp_path / "no-chromium-here"))
    with pytest.raises(BrowserError, match="no DISPLAY"):
        launch_chromium(url, env={k: v for k, v in os.environ.items() if k != "DISPLAY"})
