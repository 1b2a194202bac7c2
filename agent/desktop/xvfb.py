"""A virtual X desktop (Xvfb) for running and testing the agent without a real display.

    with VirtualDesktop((1280, 800)) as desk:
        subprocess.Popen(["xterm"], env=desk.env)
        ...

The display number is chosen by scanning upwards from ``:99`` for a number with no
``/tmp/.X{n}-lock`` and no ``/tmp/.X11-unix/X{n}`` socket; if another process grabs the
same number in the meantime, Xvfb refuses to start ("already active") and the next number
is tried.  Ready means: the lock file holds our Xvfb's pid and an Xlib connection succeeds.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

__all__ = ["DesktopError", "VirtualDesktop", "parse_size"]

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_FIRST_DISPLAY = 99
_MAX_DISPLAY = 1000
_START_ATTEMPTS = 8
_READY_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_RACE_MESSAGES = ("already active", "server already running", "Cannot establish any listening sockets")

# (executable, argv, Debian package)
_WINDOW_MANAGERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("openbox", ("openbox",), "openbox"),
    ("matchbox-window-manager", ("matchbox-window-manager", "-use_titlebar", "no"), "matchbox-window-manager"),
    ("fluxbox", ("fluxbox",), "fluxbox"),
)


class DesktopError(Exception):
    """The virtual desktop could not be started (Xvfb missing, died, or never became ready)."""


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"1280x800"`` into ``(1280, 800)``.

    Raises ValueError for anything that is not two positive integers joined by ``x``.
    """
    if not isinstance(text, str):
        raise ValueError(f"screen size must be a string like '1280x800', got {text!r}")
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"invalid screen size {text!r}: expected WIDTHxHEIGHT, e.g. '1280x800'")
    w, h = int(m.group(1)), int(m.group(2))
    if w <= 0 or h <= 0:
        raise ValueError(f"invalid screen size {text!r}: width and height must be positive")
    if w > 32767 or h > 32767:
        raise ValueError(f"invalid screen size {text!r}: X11 screens are limited to 32767 pixels per side")
    return w, h


def _coerce_size(size: tuple[int, int] | str) -> tuple[int, int]:
    if isinstance(size, str):
        return parse_size(size)
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"invalid screen size {size!r}: expected (width, height)") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"invalid screen size {size!r}: width and height must be positive")
    return w, h


def _lock_path(n: int) -> Path:
    return Path(f"/tmp/.X{n}-lock")


def _socket_path(n: int) -> Path:
    return Path(f"/tmp/.X11-unix/X{n}")


def _lock_owner(n: int) -> int | None:
    try:
        return int(_lock_path(n).read_text().strip())
    except (OSError, ValueError):
        return None


def _display_in_use(n: int) -> bool:
    return _lock_path(n).exists() or _socket_path(n).exists()


def _free_displays(start: int) -> "list[int]":
    return [n for n in range(start, _MAX_DISPLAY) if not _display_in_use(n)]


def _can_connect(display: str) -> bool:
    try:
        from Xlib import display as xdisplay  # python-xlib
        from Xlib.error import DisplayError
    except ImportError:  # pragma: no cover - python-xlib is a dependency
        return subprocess.run(
            ["xdpyinfo", "-display", display], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode == 0
    try:
        d = xdisplay.Display(display)
    except (DisplayError, OSError, Exception):  # noqa: BLE001 - any failure means "not yet"
        return False
    d.close()
    return True


def _read_tail(f: IO[bytes] | None, limit: int = 4000) -> str:
    if f is None:
        return ""
    try:
        f.flush()
        f.seek(0)
        data = f.read()
    except (OSError, ValueError):
        return ""
    return data.decode("utf-8", "replace")[-limit:].strip()


class VirtualDesktop:
    """An Xvfb server (optionally with a window manager) on a free display number.

    Attributes (valid after :meth:`start`): ``display`` (``":n"``), ``size`` (``(w, h)``),
    ``env`` (a copy of ``os.environ`` with ``DISPLAY`` set, for ``subprocess`` calls; with
    ``accessibility=True`` also the accessibility bus's variables, so apps publish their trees).
    ``stop()`` is idempotent and also runs at interpreter exit.
    """

    def __init__(
        self,
        size: tuple[int, int] | str = (1280, 800),
        *,
        depth: int = 24,
        window_manager: bool = False,
        dpi: int | None = None,
        accessibility: bool = False,
        own_session: bool = True,
    ) -> None:
        self.size: tuple[int, int] = _coerce_size(size)
        #: Also start an accessibility bus (``agent.desktop.a11y_bus``); its variables join ``env``.
        self.accessibility = accessibility
        self.a11y = None  # the AccessibilityBus, while running
        #: Xvfb (and the WM) in a session of their own, so a terminal's Ctrl-C reaches only us and we
        #: stop them in order. False keeps them in our process group, so that whoever kills that
        #: group (the ``agent eval`` harness stopping a task) kills them too.
        self.own_session = own_session
        if depth not in (8, 15, 16, 24, 30, 32):
            raise ValueError(f"unsupported colour depth {depth!r}")
        self.depth = depth
        self.window_manager = window_manager
        self.dpi = dpi
        self.display: str = ""
        self.number: int | None = None
        self.env: dict[str, str] = dict(os.environ)
        self.wm_name: str | None = None
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._xvfb_err: IO[bytes] | None = None
        self._wm: subprocess.Popen[bytes] | None = None
        self._wm_err: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._atexit_registered = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._xvfb is not None and self._xvfb.poll() is None

    @property
    def pid(self) -> int | None:
        return self._xvfb.pid if self._xvfb is not None else None

    def start(self) -> "VirtualDesktop":
        with self._lock:
            if self.running:
                return self
            xvfb = shutil.which("Xvfb")
            if xvfb is None:
                raise DesktopError("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
            wm_argv = self._find_window_manager() if self.window_manager else None

            last_err = ""
            start = _FIRST_DISPLAY
            for _ in range(_START_ATTEMPTS):
                free = _free_displays(start)
                if not free:
                    raise DesktopError(f"no free X display number between :{_FIRST_DISPLAY} and :{_MAX_DISPLAY - 1}")
                n = free[0]
                ok, last_err = self._try_start(xvfb, n)
                if ok:
                    break
                start = n + 1
            else:
                raise DesktopError(f"Xvfb failed to start after {_START_ATTEMPTS} attempts:\n{last_err}")

            self.number = n
            self.display = f":{n}"
            self.env = dict(os.environ)
            self.env["DISPLAY"] = self.display
            if not self._atexit_registered:
                atexit.register(self.stop)
                self._atexit_registered = True

        try:
            if wm_argv is not None:
                self._start_window_manager(wm_argv)
            if self.accessibility:
                from agent.desktop.a11y_bus import attach

                attach(self)
        except BaseException:
            self.stop()
            raise
        return self

    def _try_start(self, xvfb: str, n: int) -> tuple[bool, str]:
        """Start Xvfb on display ``n``; return (ok, error text). Retryable failures return ok=False."""
        w, h = self.size
        # Not -displayfd: with it Xvfb skips its /tmp/.X{n}-lock file, which is what makes two
        # servers (ours or anyone's) refuse to share a display number.
        # -noreset: otherwise Xvfb regenerates whenever its last client disconnects, and connections
        # attempted during that reset fail ("connection lost or could not be established").
        argv = [xvfb, f":{n}", "-screen", "0", f"{w}x{h}x{self.depth}", "-nolisten", "tcp", "-noreset"]
        if self.dpi is not None:
            argv += ["-dpi", str(int(self.dpi))]
        err = tempfile.TemporaryFile(prefix="xvfb-err-")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=self.own_session,  # see own_session
            )
        except OSError as e:
            err.close()
            raise DesktopError(f"could not execute {xvfb}: {e}") from e

        display = f":{n}"
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                text = _read_tail(err)
                err.close()
                if any(s in text for s in _RACE_MESSAGES):
                    return False, text  # lost a race for this display number: try the next one
                raise DesktopError(f"Xvfb {display} exited with status {proc.returncode}:\n{text}")
            # Ready = our lock file is in place and the server accepts connections.
            if _lock_owner(n) == proc.pid and _can_connect(display):
                break
            if time.monotonic() > deadline:
                self._kill(proc)
                text = _read_tail(err)
                err.close()
                raise DesktopError(f"Xvfb {display} did not accept connections within {_READY_TIMEOUT_S:.0f} s:\n{text}")
            time.sleep(0.02)
        self._xvfb, self._xvfb_err = proc, err
        return True, ""

    def _find_window_manager(self) -> list[str]:
        for exe, argv, _pkg in _WINDOW_MANAGERS:
            path = shutil.which(exe)
            if path:
                self.wm_name = exe
                return [path, *argv[1:]]
        pkgs = " / ".join(pkg for _, _, pkg in _WINDOW_MANAGERS)
        raise DesktopError(
            f"window_manager=True but no window manager is installed; install one of {pkgs} "
            "(Debian/Ubuntu: apt-get install openbox)"
        )

    def _start_window_manager(self, argv: list[str]) -> None:
        err = tempfile.TemporaryFile(prefix="wm-err-")
        self._wm = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=self.own_session)
        self._wm_err = err
        # Wait (bounded) until the WM announces itself; some WMs never do, so a timeout is not fatal.
        deadline = time.monotonic() + 5.0
        try:
            from Xlib import display as xdisplay

            d = xdisplay.Display(self.display)
        except Exception:  # noqa: BLE001
            d = None
        try:
            while time.monotonic() < deadline:
                if self._wm.poll() is not None:
                    raise DesktopError(
                        f"window manager {argv[0]} exited with status {self._wm.returncode}:\n{_read_tail(err)}"
                    )
                if d is not None and self._wm_ready(d):
                    return
                time.sleep(0.05)
        finally:
            if d is not None:
                d.close()

    @staticmethod
    def _wm_ready(d) -> bool:  # noqa: ANN001 - Xlib display
        try:
            owner = d.get_selection_owner(d.intern_atom("WM_S0"))
            if getattr(owner, "id", owner):
                return True
            prop = d.screen().root.get_full_property(d.intern_atom("_NET_SUPPORTING_WM_CHECK"), 0)
            return prop is not None
        except Exception:  # noqa: BLE001
            return False

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        try:
            proc.terminate()
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """Stop the window manager and Xvfb. Safe to call more than once."""
        with self._lock:
            if self.a11y is not None:
                self.a11y.stop()
                self.a11y = None
            if self._wm is not None:
                self._kill(self._wm)
                self._wm = None
            if self._wm_err is not None:
                self._wm_err.close()
                self._wm_err = None
            proc = self._xvfb
            if proc is not None:
                self._kill(proc)
                self._xvfb = None
                self._cleanup_stale(proc.pid)
            if self._xvfb_err is not None:
                self._xvfb_err.close()
                self._xvfb_err = None
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False

    def _cleanup_stale(self, pid: int) -> None:
        """After a SIGKILL Xvfb leaves its lock/socket behind; remove them only if the lock is ours."""
        if self.number is None:
            return
        if _lock_owner(self.number) != pid:
            return
        for p in (_lock_path(self.number), _socket_path(self.number)):
            try:
                p.unlink()
            except OSError:
                pass

    def __enter__(self) -> "VirtualDesktop":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"VirtualDesktop(display={self.display or None!r}, size={self.size}, {state})"
