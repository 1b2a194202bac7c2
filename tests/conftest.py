"""Shared fixtures.

``xdisplay`` (session): one Xvfb 1280x800 for the whole test process, exported as
``os.environ["DISPLAY"]``.  pyautogui/pynput bind the display when they are first imported,
so import them inside tests/fixtures that depend on ``xdisplay`` — not at module top level.

``screen``: a :class:`agent.screen.Screen` on that display, closed after the test.

``spawn_window``: ``spawn(argv, *, title, timeout=10) -> Popen`` starts a program on the display
and returns once a viewable window named exactly ``title`` exists (``proc.window_id`` holds its
X id); every spawned process is killed at teardown.

``a11y_display`` (session): an accessibility bus (``agent.desktop.a11y_bus``) on the ``xdisplay``
desktop, so pyautogui in this process reaches the same screen the tree describes. ``.display``,
``.bus`` and ``.env`` (the desktop's environment plus the bus's: start applications with it so
they publish their trees). Fails in CI, skips elsewhere, when at-spi2-core / python3-gi are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from agent.desktop import DesktopError, VirtualDesktop
from agent.screen import Screen


#: A hang guard for a subprocess of the tests, never a performance budget: the suite must pass on a busy
#: machine (two CPU hogs beside it), so a command that is merely slow is waited for; only one that has
#: hung is cut off.
HANG_S = 1200


def require(module: str, reason: str):
    """``pytest.importorskip`` that fails instead of skipping in CI (``CI`` set), where every optional
    part is installed: a test that silently skips there proves nothing."""
    if os.environ.get("CI"):
        import importlib

        try:
            return importlib.import_module(module)
        except ImportError as e:
            pytest.fail(f"{reason} ({e})")
    return pytest.importorskip(module, reason=reason)


@pytest.fixture(scope="session")
def xdisplay():
    if shutil.which("Xvfb") is None:
        msg = "Xvfb is not installed (install xvfb: apt-get install xvfb)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    desk = VirtualDesktop((1280, 800))
    try:
        desk.start()
    except DesktopError as e:
        if os.environ.get("CI"):
            pytest.fail(f"could not start Xvfb: {e}")
        pytest.skip(f"could not start Xvfb: {e}")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = desk.display
    try:
        yield desk
    finally:
        desk.stop()
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


class A11yDisplay:
    def __init__(self, desk: VirtualDesktop, bus) -> None:  # noqa: ANN001
        from agent.desktop.a11y_bus import apply_env

        self.desk, self.bus, self.display = desk, bus, desk.display
        self.env = dict(desk.env)
        apply_env(bus.env, self.env)


@pytest.fixture(scope="session")
def a11y_display(xdisplay):
    from agent.desktop.a11y_bus import AccessibilityBus, AccessibilityError

    bus = AccessibilityBus(xdisplay.display)
    try:
        bus.start()
    except AccessibilityError as e:
        if os.environ.get("CI"):
            pytest.fail(f"could not start the accessibility bus: {e}")
        pytest.skip(f"could not start the accessibility bus: {e}")
    try:
        yield A11yDisplay(xdisplay, bus)
    finally:
        bus.stop()


@pytest.fixture
def screen(xdisplay):
    s = Screen(xdisplay.display)
    try:
        yield s
    finally:
        s.close()


def _window_name(d, win) -> str | None:  # noqa: ANN001 - Xlib objects
    from Xlib import X

    try:
        prop = win.get_full_property(d.intern_atom("_NET_WM_NAME"), X.AnyPropertyType)
        if prop is not None and prop.value:
            v = prop.value
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        name = win.get_wm_name()
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        return name
    except Exception:  # noqa: BLE001 - window vanished meanwhile
        return None


def find_window(display: str, title: str) -> int | None:
    """The id of a viewable window named exactly ``title`` on ``display``, or None."""
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        stack = [d.screen().root]
        while stack:
            win = stack.pop()
            try:
                children = win.query_tree().children
            except Exception:  # noqa: BLE001
                continue
            for child in children:
                try:
                    viewable = child.get_attributes().map_state == X.IsViewable
                except Exception:  # noqa: BLE001
                    continue
                if viewable and _window_name(d, child) == title:
                    return child.id
                stack.append(child)
        return None
    finally:
        d.close()


@pytest.fixture
def spawn_window(xdisplay):
    procs: list[subprocess.Popen] = []

    def spawn(argv: list[str], *, title: str, timeout: float = 10) -> subprocess.Popen:
        err = tempfile.TemporaryFile(prefix="spawn-err-")
        proc = subprocess.Popen(argv, env=xdisplay.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        procs.append(proc)
        deadline = time.monotonic() + timeout
        while True:
            wid = find_window(xdisplay.display, title)
            if wid is not None:
                proc.window_id = wid  # type: ignore[attr-defined]
                err.close()
                return proc
            if proc.poll() is not None:
                err.seek(0)
                msg = err.read().decode("utf-8", "replace")[-2000:]
                err.close()
                pytest.fail(f"{argv[0]} exited ({proc.returncode}) before showing window {title!r}:\n{msg}")
            if time.monotonic() > deadline:
                err.close()
                pytest.fail(f"no window titled {title!r} appeared within {timeout} s for {argv!r}")
            time.sleep(0.03)

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
