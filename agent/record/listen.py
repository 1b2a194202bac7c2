"""The recorder's ears: pynput's mouse and keyboard listeners, with true event times and a clean stop.

* **True times.** Each event becomes a ``RawEvent`` stamped with the X server's own time of the event
  (``agent.record.frames.event_time``), not the time pynput's callback ran — through X RECORD that
  is up to hundreds of milliseconds later under load, long enough for the app to have redrawn.
* **Pin at once.** For every event that may start a step (a button press, a wheel click, a key
  press) ``pin(t)`` runs in the callback, so the "before" frame is chosen while it is still in the
  frame history, whatever the merge loop is doing.
* **A clean stop.** pynput sends the X RECORD "disable" on the connection its own thread is blocked
  reading, so ``stop()`` alone ends that thread only at the next input event — after the recording,
  on a display that may be gone, with an Xlib traceback on stderr. ``InputListeners.stop`` sends the
  disable on a connection of its own and joins the threads; a thread that still dies of the display
  going away (the X server quit first) does so quietly.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from actions.errors import ActionValidationError
from actions.keys import normalize_key
from agent.record.frames import event_time
from agent.record.merge import RawEvent

_PYNPUT_NAMES = {"cmd": "win", "cmd_l": "win", "cmd_r": "win", "alt_gr": "alt", "esc": "escape",
                 "ctrl_l": "ctrl", "ctrl_r": "ctrl", "alt_l": "alt", "alt_r": "alt",
                 "shift_l": "shift", "shift_r": "shift", "page_up": "pageup", "page_down": "pagedown",
                 "caps_lock": "capslock", "num_lock": "numlock", "print_screen": "printscreen",
                 "scroll_lock": "scrolllock", "media_play_pause": "playpause"}


class ListenError(RuntimeError):
    """The mouse and keyboard cannot be listened to (no display, no pynput backend)."""


def key_name(name: str) -> str | None:
    """A pynput key name (``ctrl_l``, ``page_down``, ``a``) in our canonical spelling, or None."""
    name = _PYNPUT_NAMES.get(name, name)
    try:
        return normalize_key(name)
    except ActionValidationError:
        return None


# Threads whose death by an Xlib/socket error is expected (the display went away) and not printed.
_QUIET_THREADS: weakref.WeakSet = weakref.WeakSet()
_HOOK: list = []


def _quiet_display_errors(thread: threading.Thread) -> None:
    if not _HOOK:
        previous = threading.excepthook

        def hook(args) -> None:  # noqa: ANN001 - threading.ExceptHookArgs
            mod = type(args.exc_value).__module__ or ""
            if args.thread in _QUIET_THREADS and (isinstance(args.exc_value, OSError) or mod.startswith("Xlib")):
                return
            previous(args)

        threading.excepthook = hook
        _HOOK.append(hook)
    _QUIET_THREADS.add(thread)


def _timed(listener_cls):
    """A pynput (xorg) listener class that remembers the X server's timestamp of the event whose
    callback is running (``server_ms``); other backends leave it None."""

    class Timed(listener_cls):
        server_ms: int | None = None

        def _handle_message(self, display, event, injected):  # noqa: ANN001 - pynput's xorg hook
            self.server_ms = getattr(event, "time", None)
            return super()._handle_message(display, event, injected)

    return Timed


class InputListeners:
    """``put(RawEvent)`` for every mouse/key event; ``pin(t)`` for every event that may start a step.
    ``lag`` is the longest delivery delay seen (callback time − event time); ``error`` the exception
    a callback raised (pynput would otherwise stop listening silently)."""

    def __init__(self, put: Callable[[RawEvent], None], pin: Callable[[float], None],
                 display: str | None = None) -> None:
        self.put, self.pin, self.display = put, pin, display
        self.lag = 0.0
        self.error: Exception | None = None
        self._threads: list = []

    def _stamp(self, lst) -> float:  # noqa: ANN001 - a Timed listener
        received = time.monotonic()
        t = event_time(lst.server_ms, received)
        self.lag = max(self.lag, received - t)
        return t

    def _guarded(self, fn):
        def call(*args):  # pynput passes `injected` too to a callback that takes *args
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - reported by the merge loop
                self.error = e
        return call

    def start(self) -> None:
        try:
            from pynput import keyboard, mouse
        except Exception as e:  # noqa: BLE001 - pynput's backend fails to load without a display
            raise ListenError(f"cannot listen to the mouse and keyboard: {e}") from None
        put, pin = self.put, self.pin

        def on_click(x, y, button, pressed, *_injected):
            t = self._stamp(ms)
            if pressed:
                pin(t)
            put(RawEvent("press" if pressed else "release", t, int(x), int(y), button=button.name))

        def on_scroll(x, y, dx, dy, *_injected):
            t = self._stamp(ms)
            pin(t)
            put(RawEvent("scroll", t, int(x), int(y), dx=int(dx), dy=int(dy)))

        def key_event(kind):
            def handler(key, *_injected):
                t = self._stamp(kb)
                if kind == "key_down":
                    pin(t)
                if isinstance(key, keyboard.Key):
                    put(RawEvent(kind, t, key=key_name(key.name)))
                    return
                ch = getattr(key, "char", None)
                if ch is not None and len(ch) == 1 and ord(ch) < 32:  # ctrl+a arrives as "\x01"
                    ch = chr(ord(ch) + 96)
                put(RawEvent(kind, t, key=key_name(ch.lower()) if ch else None, char=ch))
            return handler

        ms = _timed(mouse.Listener)(on_click=self._guarded(on_click), on_scroll=self._guarded(on_scroll))
        kb = _timed(keyboard.Listener)(on_press=self._guarded(key_event("key_down")),
                                       on_release=self._guarded(key_event("key_up")))
        for lst in (ms, kb):
            lst.daemon = True
            _quiet_display_errors(lst)
            lst.start()
            lst.wait()
            self._threads.append(lst)

    def stop(self) -> None:
        """Stop and join the listener threads (see the module docstring)."""
        alive = [lst for lst in self._threads if lst.is_alive()]
        for lst in alive:
            try:
                lst.stop()
            except Exception:  # noqa: BLE001 - the display is already gone
                pass
        try:
            from Xlib import display as xdisplay

            d = xdisplay.Display(self.display)
            d.set_error_handler(lambda *a: None)
            for lst in alive:
                ctx = getattr(lst, "_context", None)
                if ctx is not None and lst.is_alive():
                    d.record_disable_context(ctx)
            d.sync()
            d.close()
        except Exception:  # noqa: BLE001 - no display (it went away): the threads die quietly
            pass
        for lst in alive:
            lst.join(2.0)
