"""Start the web site the way a task needs it: the server process, then Chromium showing it.

``start_site(workdir, ...)`` returns a :class:`Site` once the server printed its URL *and* the page
in Chromium has reported its search page (so the state file already holds every box) and the
window's pixels settled. ``Site.stop()`` closes Chromium (its whole process group and profile) and
then the server. ``tasks.environment`` wraps this into the ``AppHandle`` of the app ``web``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from agent.desktop.browser import BrowserError, BrowserHandle, launch_chromium

DEFAULT_GEOMETRY = "1180x740+40+30"


class SiteStartError(RuntimeError):
    """The server or the browser did not come up (the message says which, with its output)."""


@dataclass
class Site:
    server: subprocess.Popen
    browser: BrowserHandle | None
    url: str
    db_path: Path
    state_path: Path
    log_path: Path

    def state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.stop()
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=5)


def parse_geometry(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``"1180x740+40+30"`` -> ((1180, 740), (40, 30))."""
    try:
        size, _, rest = text.partition("+")
        w, h = (int(v) for v in size.lower().split("x"))
        x, y = (int(v) for v in rest.split("+")) if rest else (0, 0)
    except ValueError:
        raise ValueError(f"bad geometry {text!r}: expected WIDTHxHEIGHT+X+Y, e.g. {DEFAULT_GEOMETRY}") from None
    return (w, h), (x, y)


def start_server(workdir: Path, *, today: str | None = None, order: str = "time", port: int = 0,
                 env: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """The server as its own process (``python -m tasks.apps.web``); returns it and its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tasks.apps.web", "--db", str(workdir / "bookings.sqlite"),
            "--state", str(workdir / "web-state.json"), "--port", str(port), "--order", order]
    if today:
        argv += ["--today", str(today)]
    log = open(workdir / "web-server.log", "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env)
    log.close()
    deadline = time.monotonic() + timeout
    line = b""
    os.set_blocking(proc.stdout.fileno(), False)
    while not line.endswith(b"\n"):
        chunk = proc.stdout.read() or b""
        line += chunk
        if not chunk:
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                tail = (workdir / "web-server.log").read_text(errors="replace")[-1500:]
                raise SiteStartError(f"the web server did not start (exit {proc.returncode}): {tail or 'no output'}")
            time.sleep(0.05)
    proc.stdout.close()
    return proc, line.decode().strip()


def start_site(workdir: Path, *, today: str | None = None, order: str = "time", geometry: str = DEFAULT_GEOMETRY,
               app_mode: bool = True, remote_debugging_port: int | None = None, env: dict[str, str] | None = None,
               timeout: float = 90.0) -> Site:
    """Server + Chromium (app mode by default), ready when the page reported its search page."""
    size, position = parse_geometry(geometry)
    server, url = start_server(workdir, today=today, order=order, env=env)
    site = Site(server, None, url, workdir / "bookings.sqlite", workdir / "web-state.json",
                workdir / "web-server.log")

    def ready() -> bool:
        s = site.state()
        return s.get("page") == "search" and "search" in s.get("widgets", {})

    try:
        site.browser = launch_chromium(url, size=size, position=position, app_mode=app_mode, env=env,
                                       remote_debugging_port=remote_debugging_port, timeout=timeout, ready=ready)
    except BrowserError as e:
        site.stop()
        raise SiteStartError(f"Chromium did not show the site: {e}") from None
    except BaseException:
        site.stop()
        raise
    return site
