"""The accessibility bus of a desktop: a private session D-Bus, the AT-SPI bus and its registry.

Why: applications publish their accessibility trees (role, name, state, exact screen bounds of every
button and entry) over AT-SPI2, which is a second D-Bus found through the session bus (or the
``AT_SPI_BUS`` property on the X root window). A bare Xvfb has neither, so nothing is published and
the element model falls back to pixels. ``AccessibilityBus`` starts the three processes, in the order
that works (checked on Debian 12):

1. ``dbus-daemon --session`` — a private session bus (never the user's);
2. ``/usr/libexec/at-spi-bus-launcher --launch-immediately`` — starts the accessibility bus (its own
   ``dbus-daemon``) and claims ``org.a11y.Bus`` on the session bus;
3. ``/usr/libexec/at-spi2-registryd`` — the registry; without it the desktop lists no applications.

Ready is a state, not a delay: the launcher answers ``org.a11y.Bus.GetAddress`` and the registry
answers on the accessibility bus. ``org.a11y.Status.IsEnabled`` is then set, and ``env`` holds what
applications started on that desktop need to publish (``GTK_MODULES=gail:atk-bridge``,
``ACCESSIBILITY_ENABLED=1``, ``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1``, ``NO_AT_BRIDGE`` removed).
Each process runs in its own process group; ``stop()`` ends the groups (the launcher's group holds
the accessibility bus daemon), also after a failed start and at interpreter exit.

libatspi binds to one accessibility bus per process, at first use: a process reads one desktop's
tree (``apply_env`` before the first ``agent.elements.a11y`` call).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import IO

from agent.desktop.xvfb import DesktopError

__all__ = ["AccessibilityError", "AccessibilityBus", "APP_ENV", "APP_ENV_UNSET", "apply_env", "attach"]

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 3.0
_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
_REGISTRYD = "/usr/libexec/at-spi2-registryd"
#: (path or name, Debian package) of every binary the bus needs.
_BINARIES = (("dbus-daemon", "dbus-daemon"), (_LAUNCHER, "at-spi2-core"), (_REGISTRYD, "at-spi2-core"))

#: What an application needs in its environment to publish its tree on this bus.
APP_ENV = {
    "GTK_MODULES": "gail:atk-bridge",  # GTK 2 loads the bridge as a module; GTK 3 has it built in
    "ACCESSIBILITY_ENABLED": "1",  # Chromium, Firefox, GTK: "an assistive technology is running"
    "QT_ACCESSIBILITY": "1",
    "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",  # Qt 5/6 publish without asking org.a11y.Status
}
#: Variables that turn publishing off, removed from that environment.
APP_ENV_UNSET = ("NO_AT_BRIDGE",)


class AccessibilityError(DesktopError):
    """The accessibility bus could not be started (a binary missing, a daemon died or never answered)."""


def apply_env(env: dict[str, str | None], target: MutableMapping[str, str] | None = None) -> Callable[[], None]:
    """Set ``env`` in ``target`` (``os.environ`` by default; ``None`` values remove the variable) and
    return a function that restores what was there. The in-process element source needs this: libatspi
    reads ``DISPLAY`` / ``AT_SPI_BUS_ADDRESS`` / ``DBUS_SESSION_BUS_ADDRESS`` from ``os.environ``."""
    tgt = os.environ if target is None else target
    saved = {k: tgt.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            tgt.pop(k, None)
        else:
            tgt[k] = v

    def restore() -> None:
        for k, v in saved.items():
            if v is None:
                tgt.pop(k, None)
            else:
                tgt[k] = v

    return restore


def attach(desk) -> "AccessibilityBus":  # noqa: ANN001 - a started VirtualDesktop
    """Start a bus on ``desk``'s display, keep it as ``desk.a11y`` (stopped with the desktop) and merge
    its variables into ``desk.env``. ``apply_env(desk.a11y.env)`` then points this process at it."""
    bus = AccessibilityBus(desk.display, own_session=getattr(desk, "own_session", True)).start()
    desk.a11y = bus
    apply_env(bus.env, desk.env)
    return bus


def _dbus(address: str):  # noqa: ANN202 - Gio.DBusConnection
    from gi.repository import Gio

    flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
    return Gio.DBusConnection.new_for_address_sync(address, flags, None, None)


def _call(conn, dest: str, path: str, iface: str, method: str, args=None, timeout_ms: int = 1000):  # noqa: ANN001, ANN202
    return conn.call_sync(dest, path, iface, method, args, None, 0, timeout_ms, None).unpack()


def _has_owner(conn, name: str) -> bool:  # noqa: ANN001
    return bool(_call(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "NameHasOwner", _variant("(s)", (name,)))[0])


def _variant(fmt: str, value):  # noqa: ANN001, ANN202
    from gi.repository import GLib

    return GLib.Variant(fmt, value)


class AccessibilityBus:
    """The session bus + AT-SPI bus + registry of one X display (see the module docstring).

    ``env`` (valid after ``start``) maps variables to values, ``None`` meaning "remove": merge it into
    an application's environment, or ``apply_env(bus.env)`` for this process. ``address`` is the
    accessibility bus, ``session_address`` the private session bus; ``startup_s`` how long start took.
    """

    def __init__(self, display: str, *, timeout: float = _START_TIMEOUT_S, own_session: bool = True) -> None:
        if not display:
            raise ValueError("AccessibilityBus needs an X display (e.g. ':99')")
        self.display = display
        #: The daemons in process groups of their own (stopped group by group), or — False — in ours, so
        #: that whoever kills our group (the eval harness ending a task) kills them too.
        self.own_session = own_session
        self.timeout = timeout
        self.session_address = ""
        self.address = ""
        self.startup_s: float | None = None
        self._procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        self._lock = threading.Lock()
        self._atexit = False

    @property
    def running(self) -> bool:
        return len(self._procs) == 3 and all(p.poll() is None for _, p, _ in self._procs)

    @property
    def pids(self) -> list[int]:
        return [p.pid for _, p, _ in self._procs]

    @property
    def env(self) -> dict[str, str | None]:
        if not self.address:
            raise AccessibilityError("the accessibility bus is not running (call start() first)")
        out: dict[str, str | None] = {"DISPLAY": self.display, "DBUS_SESSION_BUS_ADDRESS": self.session_address,
                                      "AT_SPI_BUS_ADDRESS": self.address, **APP_ENV}
        out.update({k: None for k in APP_ENV_UNSET})
        return out

    def app_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) with ``env`` merged in: for ``subprocess.Popen(env=...)``."""
        out = dict(os.environ if base is None else base)
        apply_env(self.env, out)
        return out

    # ---------------------------------------------------------------------------------- lifecycle
    def start(self) -> "AccessibilityBus":
        with self._lock:
            if self.running:
                return self
            self._check_binaries()
            t0 = time.monotonic()
            deadline = t0 + self.timeout
            try:
                self._start_all(deadline)
            except BaseException:
                self._stop_locked()
                raise
            self.startup_s = time.monotonic() - t0
            if not self._atexit:
                atexit.register(self.stop)
                self._atexit = True
        return self

    @staticmethod
    def _check_binaries() -> None:
        missing = [(b, pkg) for b, pkg in _BINARIES if not (os.access(b, os.X_OK) if b.startswith("/") else shutil.which(b))]
        if missing:
            names = ", ".join(b for b, _ in missing)
            pkgs = " ".join(sorted({p for _, p in missing}))
            raise AccessibilityError(f"cannot start the accessibility bus: {names} not found "
                                     f"(Debian/Ubuntu: apt-get install {pkgs})")
        try:
            import gi

            gi.require_version("Atspi", "2.0")
            from gi.repository import Atspi, Gio  # noqa: F401
        except (ImportError, ValueError) as e:
            raise AccessibilityError(f"the AT-SPI Python binding is missing ({e}); Debian/Ubuntu: apt-get install "
                                     "python3-gi gir1.2-atspi-2.0 (and use a Python that sees them)") from None

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], stdout=subprocess.DEVNULL):  # noqa: ANN001
        err = tempfile.TemporaryFile(prefix=f"{name}-err-")
        try:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err,
                                    start_new_session=self.own_session)
        except OSError as e:
            err.close()
            raise AccessibilityError(f"could not execute {argv[0]}: {e}") from e
        self._procs.append((name, proc, err))
        return proc

    def _died(self, name: str) -> AccessibilityError:
        _, proc, err = next(p for p in self._procs if p[0] == name)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")[-2000:].strip()
        return AccessibilityError(f"{name} exited with status {proc.returncode} while starting the accessibility "
                                  f"bus on {self.display}" + (f":\n{text}" if text else ""))

    def _wait(self, what: str, deadline: float, ready: Callable[[], bool]) -> None:
        while True:
            for name, proc, _ in self._procs:
                if proc.poll() is not None:
                    raise self._died(name)
            try:
                if ready():
                    return
            except Exception:  # noqa: BLE001 - not answering yet
                pass
            if time.monotonic() > deadline:
                raise AccessibilityError(f"{what} did not answer within {self.timeout:g} s on {self.display}")
            time.sleep(0.02)

    def _start_all(self, deadline: float) -> None:
        env = dict(os.environ)
        env["DISPLAY"] = self.display
        for k in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS", "NO_AT_BRIDGE"):
            env.pop(k, None)
        # 1. the session bus; it prints its address on stdout once it listens
        daemon = self._spawn("dbus-daemon", [shutil.which("dbus-daemon") or "dbus-daemon", "--session", "--nofork",
                                             "--nopidfile", "--print-address=1"], env, stdout=subprocess.PIPE)
        self.session_address = self._read_address(daemon, deadline)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.session_address
        session = _dbus(self.session_address)
        try:
            # 2. the launcher and its accessibility bus
            self._spawn("at-spi-bus-launcher", [_LAUNCHER, "--launch-immediately"], env)
            got: list[str] = []

            def bus_address() -> bool:
                if _has_owner(session, "org.a11y.Bus"):
                    got[:] = [_call(session, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress")[0]]
                return bool(got and got[0])

            self._wait("at-spi-bus-launcher (org.a11y.Bus)", deadline, bus_address)
            self.address = got[0]
            env["AT_SPI_BUS_ADDRESS"] = self.address
            # 3. the registry, on the accessibility bus
            self._spawn("at-spi2-registryd", [_REGISTRYD], env)
            a11y = _dbus(self.address)
            try:
                self._wait("at-spi2-registryd (org.a11y.atspi.Registry)", deadline, lambda: self._registry_answers(a11y))
            finally:
                a11y.close_sync(None)
            # "an assistive technology is running": toolkits that ask (Qt, Chromium, GTK) publish
            with contextlib.suppress(Exception):
                _call(session, "org.a11y.Bus", "/org/a11y/bus", "org.freedesktop.DBus.Properties", "Set",
                      _variant("(ssv)", ("org.a11y.Status", "IsEnabled", _variant("b", True))))
        finally:
            session.close_sync(None)

    @staticmethod
    def _registry_answers(conn) -> bool:  # noqa: ANN001
        if not _has_owner(conn, "org.a11y.atspi.Registry"):
            return False
        _call(conn, "org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root", "org.a11y.atspi.Accessible",
              "GetChildren")
        return True

    def _read_address(self, proc: subprocess.Popen[bytes], deadline: float) -> str:
        assert proc.stdout is not None
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AccessibilityError(f"dbus-daemon printed no address within {self.timeout:g} s")
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    proc.wait(timeout=2)
                    raise self._died("dbus-daemon")
                buf += chunk
        return buf.split(b"\n", 1)[0].decode().strip()

    def stop(self) -> None:
        """End the registry, the launcher (with the accessibility bus) and the session bus. Idempotent."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        for _name, proc, err in reversed(self._procs):
            _end_group(proc) if self.own_session else _end(proc)
            if proc.stdout is not None:
                proc.stdout.close()
            err.close()
        self._procs.clear()
        self.address = self.session_address = ""
        if self._atexit:
            atexit.unregister(self.stop)
            self._atexit = False

    def __enter__(self) -> "AccessibilityBus":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"AccessibilityBus(display={self.display!r}, {'running' if self.running else 'stopped'})"


def _end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM one daemon (not a group leader: it shares ours), then SIGKILL after a bounded wait."""
    for stop in (proc.terminate, proc.kill):
        with contextlib.suppress(ProcessLookupError):
            stop()
        try:
            proc.wait(timeout=_STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group ``proc`` leads, then SIGKILL what is left after a bounded wait."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; children in its group (the launcher's dbus-daemon) may still be ending
        end = time.monotonic() + _STOP_TIMEOUT_S
        while time.monotonic() < end and _group_alive(proc.pid):
            time.sleep(0.02)
        if not _group_alive(proc.pid):
            return


def _group_alive(pgid: int) -> bool:
    """Does any live (non-zombie) process remain in process group ``pgid``? Read from /proc, since a
    zombie whose parent has not reaped it yet still answers ``killpg(pgid, 0)``."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for pid in entries:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
