"""Input backends: the few primitives the executor needs, and nothing about safety or models.

* ``PyAutoGUIBackend`` drives the real desktop. pyautogui's own ``PAUSE`` is set to 0 (the executor
  paces itself and waits for the screen to settle instead of sleeping), and its fail-safe corner stays
  on: a ``FailSafeException`` becomes our typed ``FailSafeTriggered``.
* ``DryRunBackend`` only records what would have happened (``--dry-run``, tests, demos).

pyautogui binds to ``$DISPLAY`` when first imported, so it is imported lazily, in the backend.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

from actions.coords import ScreenLayout
from actions.errors import ActionError, FailSafeTriggered


class Backend(Protocol):
    name: str
    resolve_secrets: bool  # False: type ``{{secret:NAME}}`` placeholders as they are (dry runs)

    def layout(self) -> ScreenLayout: ...
    def position(self) -> tuple[int, int]: ...
    def move(self, x: int, y: int) -> None: ...
    def button_down(self, button: str) -> None: ...
    def button_up(self, button: str) -> None: ...
    def click(self, button: str, clicks: int) -> None: ...
    def scroll(self, dx: int, dy: int) -> None: ...
    def write(self, text: str) -> None: ...
    def key_down(self, key: str) -> None: ...
    def key_up(self, key: str) -> None: ...


class PyAutoGUIBackend:
    """The real desktop through pyautogui (X11 via Xlib/XTest, macOS, Windows)."""

    name = "pyautogui"
    resolve_secrets = True

    def __init__(self, layout: ScreenLayout | None = None) -> None:
        try:
            import pyautogui
        except Exception as e:  # KeyError('DISPLAY'), Xlib.error.DisplayConnectionError ...
            raise ActionError(
                f"cannot control the mouse and keyboard: {type(e).__name__}: {e}. "
                "Is a display reachable? Try `agent desktop` for a virtual one, or `agent doctor`."
            ) from None
        pyautogui.PAUSE = 0
        pyautogui.MINIMUM_DURATION = 0
        pyautogui.FAILSAFE = True
        self._pg = pyautogui
        self._layout = layout

    def layout(self) -> ScreenLayout:
        if self._layout is None:
            w, h = self._pg.size()
            self._layout = ScreenLayout.single(w, h)
        return self._layout

    def _call(self, fn, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except self._pg.FailSafeException:
            raise FailSafeTriggered(
                "pyautogui fail-safe: the mouse is in a screen corner; move it away to continue") from None

    def position(self) -> tuple[int, int]:
        p = self._pg.position()
        return int(p[0]), int(p[1])

    def move(self, x: int, y: int) -> None:
        self._call(self._pg.moveTo, x, y, _pause=False)

    def button_down(self, button: str) -> None:
        self._call(self._pg.mouseDown, button=button, _pause=False)

    def button_up(self, button: str) -> None:
        self._call(self._pg.mouseUp, button=button, _pause=False)

    def click(self, button: str, clicks: int) -> None:
        self._call(self._pg.click, button=button, clicks=clicks, interval=0.0, _pause=False)

    def scroll(self, dx: int, dy: int) -> None:
        if dy:
            self._call(self._pg.vscroll, dy, _pause=False)
        if dx:
            self._call(self._pg.hscroll, dx, _pause=False)

    def write(self, text: str) -> None:
        """Type one chunk. Characters pyautogui cannot map (non-ASCII) go through xdotool on X11
        rather than being dropped silently, as pyautogui would."""
        mapping = getattr(self._pg, "platformModule", None)
        known = getattr(mapping, "keyboardMapping", None) or {}
        run: list[str] = []
        for ch in text:
            if ch in known or ch in "\n\t":
                run.append(ch)
                continue
            if run:
                self._call(self._pg.write, "".join(run), _pause=False)
                run.clear()
            self._type_foreign(ch)
        if run:
            self._call(self._pg.write, "".join(run), _pause=False)

    def _type_foreign(self, ch: str) -> None:
        self._call(self._pg.failSafeCheck)
        if sys.platform.startswith("linux") and shutil.which("xdotool"):
            subprocess.run(["xdotool", "type", "--delay", "0", "--", ch], check=True, timeout=5)
            return
        raise ActionError(f"cannot type the character {ch!r} with this backend")

    def key_down(self, key: str) -> None:
        self._call(self._pg.keyDown, key, _pause=False)

    def key_up(self, key: str) -> None:
        self._call(self._pg.keyUp, key, _pause=False)


@dataclass
class DryRunBackend:
    """Records every primitive instead of performing it. ``calls`` holds ``(name, *args)`` tuples."""

    screen: ScreenLayout = field(default_factory=lambda: ScreenLayout.single(1280, 800))
    name: str = "dry-run"
    #: A dry run never reads secret values; tests may turn this on to see what would be typed.
    resolve_secrets: bool = False
    calls: list[tuple] = field(default_factory=list)
    _pos: tuple[int, int] = (0, 0)

    def layout(self) -> ScreenLayout:
        return self.screen

    def position(self) -> tuple[int, int]:
        return self._pos

    def move(self, x: int, y: int) -> None:
        self._pos = (x, y)
        self.calls.append(("move", x, y))

    def button_down(self, button: str) -> None:
        self.calls.append(("button_down", button))

    def button_up(self, button: str) -> None:
        self.calls.append(("button_up", button))

    def click(self, button: str, clicks: int) -> None:
        self.calls.append(("click", button, clicks))

    def scroll(self, dx: int, dy: int) -> None:
        self.calls.append(("scroll", dx, dy))

    def write(self, text: str) -> None:
        self.calls.append(("write", text))

    def key_down(self, key: str) -> None:
        self.calls.append(("key_down", key))

    def key_up(self, key: str) -> None:
        self.calls.append(("key_up", key))
