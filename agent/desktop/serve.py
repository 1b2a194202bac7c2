"""``agent desktop``: keep a virtual desktop running for a person until Ctrl-C or SIGTERM.

The desktop itself is ``agent.desktop.xvfb.VirtualDesktop``; this adds the foreground life of the
command: the exports another shell needs (``DISPLAY`` and, with the accessibility bus, its
variables), a part attached while it runs (the live view), and an orderly stop on Ctrl-C, SIGTERM
or SIGHUP (the attached part first, then the bus, the window manager and Xvfb), or an error when
Xvfb dies underneath.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack

from agent.desktop.xvfb import DesktopError, VirtualDesktop

__all__ = ["serve_forever"]


def serve_forever(
    size: tuple[int, int] | str = (1280, 800),
    window_manager: bool = False,
    print_fn: Callable[[str], object] = print,
    accessibility: bool = False,
    attach: Callable[["VirtualDesktop"], AbstractContextManager[object]] | None = None,
) -> int:
    """Run a virtual desktop until Ctrl-C or SIGTERM (for ``agent desktop``). Returns an exit code.
    ``attach(desk)`` (e.g. the live view) is entered once the desktop runs and exited before it stops."""
    stop_event = threading.Event()
    previous: dict[int, object] = {}
    in_main = threading.current_thread() is threading.main_thread()

    def _handler(signum: int, _frame: object) -> None:
        stop_event.set()

    desk = VirtualDesktop(size, window_manager=window_manager, accessibility=accessibility)
    try:
        desk.start()
    except DesktopError as e:
        print_fn(f"error: {e}")
        return 1
    extra = ExitStack()
    try:
        if in_main:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                previous[sig] = signal.signal(sig, _handler)
        print_fn(f"DISPLAY={desk.display}")
        try:
            if attach is not None:
                extra.enter_context(attach(desk))
        except Exception as e:  # noqa: BLE001 - a typed error from the attached part, shown as is
            print_fn(f"error: {e}")
            return 1
        w, h = desk.size
        print_fn(f"Virtual desktop {w}x{h} running (Xvfb pid {desk.pid}). In another shell run:")
        print_fn(f"  export DISPLAY={desk.display}")
        for k, v in (desk.a11y.env.items() if desk.a11y is not None else ()):
            if k != "DISPLAY":
                print_fn(f"  export {k}='{v}'" if v is not None else f"  unset {k}")
        print_fn("Press Ctrl-C to stop.")
        while not stop_event.wait(0.5):
            if not desk.running:
                print_fn("error: Xvfb exited unexpectedly")
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        extra.close()
        for sig, h in previous.items():
            signal.signal(sig, h)  # type: ignore[arg-type]
        desk.stop()
        print_fn(f"Stopped {desk.display}.")
