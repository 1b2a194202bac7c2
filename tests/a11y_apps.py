"""Real applications for the accessibility tests: a booking page in Chromium, served from 127.0.0.1.

The page reports to its server what the DOM knows, so tests can check the accessibility tree
against it without trusting the tree: ``/layout`` receives every control's ``getBoundingClientRect()``
and the window's screen position; ``/event`` every click (with the element the page saw clicked)
and every focus change. ``BookingPage.wait(pred)`` waits for such reports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Book a train</title>
<style>
 body { font-family: sans-serif; margin: 18px 26px; }
 label { margin-right: 6px; } input, select, button, textarea { margin: 4px; }
 table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 4px 10px; border: 1px solid #ccc; }
</style></head><body>
<h1>Book a train</h1>
<form onsubmit="return false">
 <div><label for="from">From</label><input id="from" name="from">
      <label for="to">To</label><input id="to" name="to"></div>
 <div><button type="button" id="date">Select a date</button>
      <label for="pax">Passengers</label>
      <select id="pax"><option>1 adult</option><option>2 adults</option><option>3 adults</option></select></div>
 <table id="results"><tr><th>Departs</th><th>Arrives</th><th>Fare</th><th></th></tr>
  <tr><td>09:10</td><td>11:05</td><td>€ 39</td><td><button type="button" id="sel1">Select</button></td></tr>
  <tr><td>12:40</td><td>14:30</td><td>€ 45</td><td><button type="button" id="sel2">Select</button></td></tr>
  <tr><td>17:20</td><td>19:15</td><td>€ 29</td><td><button type="button" id="sel3">Select</button></td></tr>
 </table>
 <fieldset><legend>Travel class</legend>
  <label><input type="radio" name="cls" id="first" value="1">First</label>
  <label><input type="radio" name="cls" id="second" value="2">Second</label></fieldset>
 <div><label><input type="checkbox" id="ins">Travel insurance</label></div>
 <div><label for="notes">Notes</label><textarea id="notes" rows="2"></textarea></div>
 <div><label for="pw">Card PIN</label><input type="password" id="pw" value="s3cret-PIN-4711"></div>
 <div><button type="button" id="pay">Pay €12.00</button></div>
</form>
<script>
 const post = (path, data) => fetch(path, {method: "POST", body: JSON.stringify(data)});
 function layout() {
   const boxes = {};
   for (const el of document.querySelectorAll("[id]")) {
     const r = el.getBoundingClientRect();
     boxes[el.id] = [r.left, r.top, r.width, r.height];
   }
   post("/layout", {boxes, screenX: window.screenX, screenY: window.screenY,
                    chromeX: window.outerWidth - window.innerWidth, chromeY: window.outerHeight - window.innerHeight,
                    dpr: window.devicePixelRatio});
 }
 addEventListener("load", () => setTimeout(layout, 50));
 addEventListener("resize", layout);
 document.addEventListener("click", e => post("/event", {type: "click", id: e.target.id || "", x: e.screenX, y: e.screenY}));
 document.addEventListener("focusin", e => post("/event", {type: "focus", id: e.target.id || ""}));
</script></body></html>"""


class BookingPage:
    """The page's HTTP server (a thread on 127.0.0.1) and what the page reported."""

    def __init__(self) -> None:
        self.layout: dict | None = None
        self.events: list[dict] = []
        self._cv = threading.Condition()
        page = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with page._cv:
                    if self.path == "/layout":
                        page.layout = data
                    else:
                        page.events.append(data)
                    page._cv.notify_all()
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, pred, timeout: float = 30.0, what: str = "the page's report"):  # noqa: ANN001, ANN201
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                got = pred(self)
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; events: {self.events[-5:]}")
                self._cv.wait(min(left, 0.5))

    def screen_box(self, el_id: str) -> tuple[float, float, float, float]:
        """Where the DOM says ``el_id`` is on screen: its client rect plus the viewport's screen origin."""
        lay = self.layout or {}
        x, y, w, h = lay["boxes"][el_id]
        return (lay["screenX"] + lay["chromeX"] + x, lay["screenY"] + lay["chromeY"] + y, w, h)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def launch_chromium(url: str, env: dict[str, str], *, position=(0, 0), size=(1000, 720)) -> tuple[subprocess.Popen, str]:  # noqa: ANN001
    """Chromium in app mode with its page in the accessibility tree; returns (process, profile dir)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="a11y-chromium-")
    argv = [exe, "--force-renderer-accessibility", "--test-type", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu",
            "--disable-quic", "--password-store=basic", "--disable-features=Translate", f"--user-data-dir={profile}",
            f"--window-position={position[0]},{position[1]}", f"--window-size={size[0]},{size[1]}", f"--app={url}"]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    return proc, profile


def stop_group(proc: subprocess.Popen, profile: str | None = None) -> None:
    """Kill the process group ``proc`` leads (Chromium's helpers, a GTK app) and remove its profile."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(fn, timeout: float = 30.0, what: str = "the accessibility tree", interval: float = 0.2):  # noqa: ANN001, ANN201
    """Call ``fn`` until it returns something truthy (state-based, bounded)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
