"""The stop flag and the global kill hotkey.

``StopFlag`` is what every long operation checks (between typing chunks, between steps, while
waiting). ``KillSwitch`` listens for a global hotkey with pynput (X11 RECORD extension on Linux, so it
sees keys whichever window has focus, Xvfb included) and sets the flag from the listener thread; the
executor notices within one typing chunk (a few milliseconds).

The default hotkey is ``<ctrl>+<alt>+k`` ("k" for kill); any pynput ``GlobalHotKeys`` spelling works.
"""

from __future__ import annotations

import threading
import time

from actions.errors import KillSwitchPressed, SafetyStop

DEFAULT_HOTKEY = "<ctrl>+<alt>+k"


class StopFlag:
    """A thread-safe "stop now" flag that remembers why and when it was set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None
        self.at: float | None = None
        self._exc: type[SafetyStop] = SafetyStop

    def set(self, reason: str = "stopped", exc: type[SafetyStop] = SafetyStop) -> None:
        if not self._event.is_set():
            self.reason, self.at, self._exc = reason, time.monotonic(), exc
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once when the flag is set. True if set."""
        return self._event.wait(timeout)

    def raise_if_set(self) -> None:
        if self._event.is_set():
            raise self._exc(self.reason or self._exc.reason)

    def clear(self) -> None:
        self._event.clear()
        self.reason = self.at = None


class KillSwitch:
    """Global hotkey → ``StopFlag``. Use as a context manager around a run.

    ``start`` raises ``RuntimeError`` with a clear message when no keyboard listener can be started
    (no display, no permission); callers decide whether to run without one (the CLI refuses unless
    ``--no-kill-hotkey`` is given).
    """

    def __init__(self, flag: StopFlag, hotkey: str = DEFAULT_HOTKEY) -> None:
        self.flag = flag
        self.hotkey = hotkey
        self._listener = None

    def _fire(self) -> None:
        self.flag.set(f"kill hotkey {self.hotkey} pressed", KillSwitchPressed)

    def start(self) -> "KillSwitch":
        try:
            from pynput import keyboard

            hk = keyboard.HotKey(keyboard.HotKey.parse(self.hotkey), self._fire)
        except ValueError as e:
            raise ValueError(f"bad kill hotkey {self.hotkey!r}: {e}") from None
        except Exception as e:  # ImportError from pynput's backend when there is no display
            raise RuntimeError(f"cannot listen for the kill hotkey: {e}") from None

        def on_press(key):
            hk.press(self._listener.canonical(key))

        def on_release(key):
            hk.release(self._listener.canonical(key))

        self._listener = keyboard.Listener(on_press=on_press, on_release=on_release)
        self._listener.start()
        self._listener.wait()  # returns once the X RECORD context is live
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener.join(timeout=0.1)
            if self._listener.is_alive():
                _nudge_record_thread()
                self._listener.join(timeout=2)  # before the display may go away
            self._listener = None

    def __enter__(self) -> "KillSwitch":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _nudge_record_thread() -> None:
    """pynput's X11 listener only notices ``stop()`` when the next key event arrives. Send it one: a
    press and release of a keycode that has no symbol, which no application acts on."""
    try:
        from Xlib import X, display
        from Xlib.ext import xtest
    except ImportError:  # not X11
        return
    try:
        d = display.Display()
    except Exception:
        return
    try:
        unused = next((kc for kc in range(255, 7, -1) if d.keycode_to_keysym(kc, 0) == 0), None)
        if unused is not None:
            xtest.fake_input(d, X.KeyPress, unused)
            xtest.fake_input(d, X.KeyRelease, unused)
            d.sync()
    finally:
        d.close()
