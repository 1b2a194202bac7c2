"""Watch a (virtual) X display in a browser while the agent works on it: x11vnc + noVNC/websockify.

    with LiveView(":99") as view:
        print("watch:", view.url)      # http://127.0.0.1:PORT/vnc.html#autoconnect=1&...

Why: a run on ``--virtual`` (Xvfb) is otherwise invisible until it is over. ``LiveView`` serves the
display to a web page on this machine only, the way the Anthropic computer-use demo shows its desktop.

Two processes, both started here and stopped on exit (their whole process groups, so websockify's
per-connection children go too):

* ``x11vnc`` on the display, listening on **127.0.0.1 only** (``-localhost -noipv6``), ``-shared
  -forever`` (several viewers, reconnects), ``-viewonly`` unless ``control=True``;
* ``websockify --web /usr/share/novnc`` on 127.0.0.1: noVNC's page and the WebSocket bridge to x11vnc.

Safety on a shared machine: 127.0.0.1 is reachable by *every* user and process of the machine, not
just you. So the VNC server always gets a fresh random password (VNC auth, 8 characters), handed to
x11vnc in a 0600 file that x11vnc deletes once read (``-passwdfile rm:FILE``; never on a command line,
where ``ps`` would show it), and the URL carries it in the ``#fragment``, which the browser never
sends to the server (so it is not in any request log). Whoever has the URL can watch; with
``control=True`` they can also type and click on the desktop - keep such URLs to yourself. View-only
is enforced by x11vnc, not only by the page. Nothing is exposed beyond this machine; to watch from
another one, forward the port over SSH (``ssh -L PORT:127.0.0.1:PORT host``).

Keys typed in the viewer (``control=True``) are injected into the X display through XTEST, where the
agent's global kill hotkey listener (pynput, X RECORD) sees them like any other key press.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

__all__ = ["LiveView", "LiveViewError", "NOVNC_DIRS", "PACKAGES"]

PACKAGES = "x11vnc novnc websockify"
NOVNC_DIRS = (Path("/usr/share/novnc"), Path("/usr/share/webapps/novnc"), Path("/snap/novnc/current/usr/share/novnc"))
_READY_TIMEOUT_S = 20.0
_START_ATTEMPTS = 3  # a free port picked here can be taken by someone else before the server binds it


class LiveViewError(Exception):
    """The live view cannot be started: a package is missing, a server died or never answered."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _page_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - our own 127.0.0.1 server
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(f: IO[bytes] | None, n: int = 1500) -> str:
    if f is None:
        return ""
    try:
        f.flush()
        f.seek(0)
        return f.read().decode("utf-8", "replace")[-n:].strip()
    except (OSError, ValueError):
        return ""


def find_novnc() -> Path | None:
    """noVNC's web folder (the one holding ``vnc.html``), or None."""
    for d in NOVNC_DIRS:
        if (d / "vnc.html").is_file():
            return d
    return None


def missing_parts() -> list[str]:
    """What the live view needs and this machine lacks (empty: all there)."""
    missing = [exe for exe in ("x11vnc", "websockify") if shutil.which(exe) is None]
    if find_novnc() is None:
        missing.append("novnc (vnc.html)")
    return missing


class LiveView:
    """Serve ``display`` to a browser on 127.0.0.1; ``url`` is the page to open. A context manager.

    ``control=False`` (the default) lets viewers watch only; ``control=True`` lets them type and
    click too. ``port`` is the web page's port (default: a free one).
    """

    def __init__(self, display: str, *, control: bool = False, port: int | None = None,
                 ready_timeout: float = _READY_TIMEOUT_S) -> None:
        if not display:
            raise LiveViewError("no X display to show (DISPLAY is empty)")
        self.display = display
        self.control = control
        self.port = port
        self.vnc_port: int | None = None
        self.ready_timeout = ready_timeout
        self._password = ""
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    # ------------------------------------------------------------------ what to open
    @property
    def url(self) -> str:
        """noVNC's page, connecting by itself, scaled to the window, view-only unless control."""
        if self.port is None or not self.running:
            raise LiveViewError("the live view is not running")
        flags = f"autoconnect=1&reconnect=1&resize=scale&show_dot=1&view_only={0 if self.control else 1}"
        return f"http://127.0.0.1:{self.port}/vnc.html#{flags}&password={self._password}"

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LiveView":
        if self.running:
            return self
        missing = missing_parts()
        if missing:
            raise LiveViewError(f"the live view needs {', '.join(missing)}: apt-get install {PACKAGES}")
        web = find_novnc()
        fixed = self.port
        last = ""
        for _ in range(_START_ATTEMPTS):
            try:
                self._start_once(web, fixed)
                return self
            except _PortTaken as e:
                last = str(e)
                self.stop()
            except BaseException:
                self.stop()
                raise
            if fixed is not None:
                break
        raise LiveViewError(f"could not start the live view: {last}")

    def _start_once(self, web: Path, fixed: int | None) -> None:
        self.vnc_port = _free_port()
        self.port = fixed if fixed is not None else _free_port()
        self._password = secrets.token_urlsafe(6)[:8]  # VNC authentication uses 8 characters at most
        fd, pw_file = tempfile.mkstemp(prefix="desk-agent-vnc-")  # created 0600
        with os.fdopen(fd, "w") as f:
            f.write(self._password + "\n")
        vnc = ["x11vnc", "-display", self.display, "-rfbport", str(self.vnc_port), "-localhost", "-noipv6",
               "-shared", "-forever", "-passwdfile", f"rm:{pw_file}", "-quiet", "-xkb",
               "-noxdamage", "-nowf", "-ncache", "0", "-nossl", "-nocmds"]
        if not self.control:
            vnc.append("-viewonly")
        try:
            self._spawn(vnc, "x11vnc")
            self._wait(lambda: _port_open(self.vnc_port), "x11vnc", f"port {self.vnc_port}")
        finally:
            Path(pw_file).unlink(missing_ok=True)  # x11vnc removes it once read; never leave it behind
        if _port_open(self.port):
            raise _PortTaken(f"port {self.port} is already in use") if fixed is None else \
                LiveViewError(f"port {self.port} is already in use: pick another --view-port")
        self._spawn(["websockify", "--web", str(web), f"127.0.0.1:{self.port}", f"127.0.0.1:{self.vnc_port}"],
                    "websockify")
        self._wait(lambda: _page_answers(f"http://127.0.0.1:{self.port}/vnc.html"), "websockify",
                   f"http://127.0.0.1:{self.port}/vnc.html")

    def _spawn(self, argv: list[str], name: str) -> None:
        log = tempfile.TemporaryFile(prefix=f"desk-agent-{name}-")
        self._logs.append(log)
        env = {**os.environ, "DISPLAY": self.display}
        self._procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True))

    def _wait(self, ready, name: str, what: str) -> None:
        """Until ``ready()`` (state, not time), the process dying, or the timeout."""
        proc, log = self._procs[-1], self._logs[-1]
        deadline = time.monotonic() + self.ready_timeout
        while not ready():
            if proc.poll() is not None:
                text = _tail(log)
                if "Address already in use" in text or "could not obtain listening port" in text.lower():
                    raise _PortTaken(f"{name}: {what} is already in use")
                raise LiveViewError(f"{name} exited with status {proc.returncode} before serving {what}:\n{text}")
            if time.monotonic() > deadline:
                raise LiveViewError(f"{name} did not answer on {what} within {self.ready_timeout:g} s:\n{_tail(log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop both servers and every child they forked. Safe to call more than once."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # the group this class created for it
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> "LiveView":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running on 127.0.0.1:{self.port}" if self.running else "stopped"
        return f"LiveView(display={self.display!r}, control={self.control}, {state})"


class _PortTaken(LiveViewError):
    """A port picked as free was taken before our server bound it: try other ports."""
