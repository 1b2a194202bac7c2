"""Chromium on the current X display, started the way the agent's tests and tasks need it.

    with launch_chromium("http://127.0.0.1:8000/", size=(1180, 740), position=(40, 30)) as browser:
        ...  # the page is loaded and drawn; browser.box() is the window's screen rectangle

Why these flags: ``--force-renderer-accessibility`` puts the page into the AT-SPI tree (the element
source reads it); ``--test-type`` hides the "unsupported command-line flag: --no-sandbox" info bar,
which would otherwise slide in after the page loaded and push the whole page down by 56 px;
``--no-first-run --no-default-browser-check`` skip the welcome page and the default-browser bar;
``--password-store=basic`` avoids the keyring prompt; ``--disable-features=Translate`` the translate
bar; the background-networking / component-update / sync / QUIC switches keep it off the network. A
fresh profile also gets preferences that turn off autofill, the password manager and "save card?"
bubbles (a payment form would otherwise trigger them). ``--no-sandbox`` only when running as root.

Ready means: the process is alive, a viewable top-level window with ``_NET_WM_PID`` = our pid is
mapped, the caller's ``ready()`` holds (e.g. "the page reported its layout to the server"), and the
window's pixels have stopped changing. ``stop()`` kills the whole process group (the browser starts
in a session of its own) and removes the profile it created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from agent.desktop.xvfb import DesktopError

__all__ = ["BrowserError", "BrowserHandle", "chromium_argv", "find_chromium", "launch_chromium"]

#: Preferences written into a fresh profile: no autofill, password or card bubbles, no translate bar.
QUIET_PREFERENCES = {
    "autofill": {"enabled": False, "profile_enabled": False, "credit_card_enabled": False},
    "credentials_enable_service": False,
    "profile": {"password_manager_enabled": False, "default_content_setting_values": {"notifications": 2}},
    "translate": {"enabled": False},
    "browser": {"has_seen_welcome_page": True, "check_default_browser": False},
}
BASE_FLAGS = ("--force-renderer-accessibility", "--test-type", "--no-first-run", "--no-default-browser-check",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage", "--password-store=basic",
              "--disable-features=Translate,MediaRouter,AutofillServerCommunication",
              "--disable-session-crashed-bubble", "--noerrdialogs", "--disable-default-apps")


class BrowserError(DesktopError):
    """Chromium is missing, exited, or never showed its window (the message has its stderr tail)."""


def find_chromium(binary: str | None = None) -> str:
    """``binary`` if given and executable, else Chromium from PATH; ``BrowserError`` when there is none."""
    if binary is not None:
        if shutil.which(binary) is None:
            raise BrowserError(f"Chromium is not installed at {binary} (Debian/Ubuntu: apt-get install chromium)")
        return binary
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    raise BrowserError("Chromium is not installed (Debian/Ubuntu: apt-get install chromium)")


def chromium_argv(url: str, *, binary: str, profile: Path, size: tuple[int, int], position: tuple[int, int],
                  app_mode: bool = True, remote_debugging_port: int | None = None) -> list[str]:
    argv = [binary, *BASE_FLAGS, f"--user-data-dir={profile}", f"--window-position={position[0]},{position[1]}",
            f"--window-size={size[0]},{size[1]}"]
    if os.geteuid() == 0:
        argv.append("--no-sandbox")
    if remote_debugging_port is not None:
        argv += [f"--remote-debugging-port={int(remote_debugging_port)}", "--remote-debugging-address=127.0.0.1"]
    argv.append(f"--app={url}" if app_mode else url)
    return argv


def _quiet_profile(profile: Path) -> None:
    (profile / "Default").mkdir(parents=True, exist_ok=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(QUIET_PREFERENCES))
    (profile / "First Run").write_text("")


@dataclass
class BrowserHandle:
    """A running Chromium: its process (group), window, profile and optional DevTools port."""

    proc: subprocess.Popen
    url: str
    profile: Path
    owns_profile: bool
    display: str
    window: int | None = None
    debug_port: int | None = None
    _err: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, limit: int = 2000) -> str:
        if self._err is None:
            return ""
        try:
            self._err.flush()
            self._err.seek(0)
            text = self._err.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        # Chromium logs D-Bus noise by the dozen when no session bus exists; keep the rest
        lines = [ln for ln in text.splitlines() if "dbus/" not in ln]
        return "\n".join(lines)[-limit:].strip()

    def box(self) -> tuple[int, int, int, int] | None:
        """The window's (left, top, width, height) on the screen now, or None if it is not mapped."""
        return window_box(self.display, self.window) if self.window else None

    def group_pids(self) -> list[int]:
        """Live processes in the browser's process group (renderers, zygote, GPU process ...)."""
        return _group_members(self.proc.pid)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the whole group, SIGKILL what is left, remove the profile we made. Idempotent."""
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None and not _group_members(pgid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        if self._err is not None:
            self._err.close()
            self._err = None
        if self.owns_profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "BrowserHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_members(pgid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry.name))
    return out


def _find_window(display: str, pid: int) -> int | None:
    """A viewable window of ``pid`` (``_NET_WM_PID``) bigger than Chromium's 10x10 leader window."""
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        atom = d.intern_atom("_NET_WM_PID")
        stack = [(d.screen().root, 0)]
        while stack:
            win, depth = stack.pop()
            try:
                children = win.query_tree().children
            except Exception:  # noqa: BLE001 - a window vanished meanwhile
                continue
            for child in children:
                try:
                    prop = child.get_full_property(atom, X.AnyPropertyType)
                    if prop is not None and int(prop.value[0]) == pid \
                            and child.get_attributes().map_state == X.IsViewable:
                        g = child.get_geometry()
                        if g.width > 50 and g.height > 50:
                            return child.id
                except Exception:  # noqa: BLE001
                    continue
                if depth < 3:
                    stack.append((child, depth + 1))
        return None
    finally:
        d.close()


def window_box(display: str, window: int) -> tuple[int, int, int, int] | None:
    """Screen rectangle of an X window (through any window-manager frame), None if gone or unmapped."""
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        win = d.create_resource_object("window", window)
        if win.get_attributes().map_state != X.IsViewable:
            return None
        g = win.get_geometry()
        pos = win.translate_coords(d.screen().root, 0, 0)
        return -pos.x, -pos.y, g.width, g.height
    except Exception:  # noqa: BLE001 - the window is gone
        return None
    finally:
        d.close()


def _devtools_port(profile: Path) -> int | None:
    try:
        return int((profile / "DevToolsActivePort").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def launch_chromium(url: str, *, size: tuple[int, int] = (1180, 740), position: tuple[int, int] = (40, 30),
                    app_mode: bool = True, user_data_dir: str | os.PathLike | None = None,
                    remote_debugging_port: int | None = None, env: dict[str, str] | None = None,
                    timeout: float = 60.0, ready: Callable[[], bool] | None = None,
                    settle: bool = True, binary: str | None = None) -> BrowserHandle:
    """Start Chromium showing ``url`` and return once its window is mapped, ``ready()`` holds and the
    window's pixels settled. ``remote_debugging_port=0`` lets Chromium pick a free port (read back
    into ``handle.debug_port``). ``env`` is passed through (DISPLAY, an accessibility bus ...);
    ``binary`` names another Chromium executable than the one on PATH."""
    binary = find_chromium(binary)
    env = dict(os.environ if env is None else env)
    display = env.get("DISPLAY")
    if not display:
        raise BrowserError("no DISPLAY: start a virtual desktop first (agent desktop, or VirtualDesktop)")
    owns = user_data_dir is None
    profile = Path(tempfile.mkdtemp(prefix="desk-chromium-")) if owns else Path(user_data_dir)
    if owns:
        _quiet_profile(profile)
    argv = chromium_argv(url, binary=binary, profile=profile, size=size, position=position, app_mode=app_mode,
                         remote_debugging_port=remote_debugging_port)
    err = tempfile.TemporaryFile(prefix="chromium-err-")
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)
    except OSError as e:
        err.close()
        if owns:
            shutil.rmtree(profile, ignore_errors=True)
        raise BrowserError(f"could not execute {binary}: {e}") from e
    handle = BrowserHandle(proc, url, profile, owns, display, _err=err)
    try:
        _wait_ready(handle, timeout, ready, remote_debugging_port, settle)
    except BaseException:
        handle.stop()
        raise
    return handle


def _wait_ready(handle: BrowserHandle, timeout: float, ready: Callable[[], bool] | None,
                port: int | None, settle: bool) -> None:
    deadline = time.monotonic() + timeout
    stage, late = "its window appeared", "show its window"
    while True:
        if not handle.alive:
            raise BrowserError(f"Chromium exited with status {handle.proc.returncode} before {stage}:\n"
                               f"{handle.stderr_tail() or '(no output)'}")
        if handle.window is None:
            try:
                handle.window = _find_window(handle.display, handle.pid)
            except Exception:  # noqa: BLE001 - no X server (yet): Chromium will say so and exit
                pass
        if handle.window is not None:
            stage, late = "the page was ready", "get the page ready"
            if port is not None and handle.debug_port is None:
                handle.debug_port = port or _devtools_port(handle.profile)
            if (ready is None or ready()) and (port is None or handle.debug_port):
                break
        if time.monotonic() > deadline:
            raise BrowserError(f"Chromium did not {late} within {timeout:g} s:\n"
                               f"{handle.stderr_tail() or '(no output)'}")
        time.sleep(0.1)
    if settle:
        _wait_pixels(handle, max(2.0, deadline - time.monotonic()))


def _wait_pixels(handle: BrowserHandle, timeout: float) -> None:
    """Until the window's pixels are unchanged for a moment (the first paint is done)."""
    from agent.screen import Region, Screen, wait_settled

    box = handle.box()
    if box is None:
        raise BrowserError("Chromium's window was unmapped while loading")
    x, y, w, h = box
    with Screen(handle.display) as screen:
        sw, sh = screen.size()
        region = Region(max(0, x), max(0, y), max(1, min(w, sw - max(0, x))), max(1, min(h, sh - max(0, y))))
        wait_settled(screen, region=region, stable_for=0.3, timeout=timeout)
