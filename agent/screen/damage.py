"""Know when something was drawn on the X screen, without capturing it: the X DAMAGE extension.

Polling the screen for changes costs a full capture and a comparison every few milliseconds (3-20 ms
at 1920x1080 on a busy 2-core machine, for the X server as much as for us). The X server knows better:
DAMAGE on the root window reports every drawing anywhere on the screen, whichever way a client draws
(core requests, RENDER, shared memory, GL through Present). ``settle`` waits on it and captures only
when something was drawn: "nothing reported since the last capture" means the screen is that capture.

``DamageWatch`` uses the report level "non-empty": one event when the damaged region goes from empty
to non-empty, ``clear`` empties it again. Like ``Screen``, a watch belongs to the thread that made it.
Xvfb, Xorg and Xwayland have DAMAGE; without it (or without python-xlib) ``Screen.damage`` is None and
the settle polls.
"""

from __future__ import annotations

import select
import time


class DamageUnavailable(Exception):
    """The display has no DAMAGE extension (or python-xlib is missing)."""


class DamageWatch:
    def __init__(self, display: str | None = None) -> None:
        try:
            from Xlib import display as xdisplay
            from Xlib.ext import damage
        except ImportError as e:
            raise DamageUnavailable(f"python-xlib is missing: {e}") from e
        try:
            self._d = xdisplay.Display(display)
        except Exception as e:  # noqa: BLE001 - Xlib raises several kinds for a display it cannot open
            raise DamageUnavailable(f"cannot open the display: {e}") from e
        try:
            if not self._d.has_extension("DAMAGE"):
                raise DamageUnavailable("the X server has no DAMAGE extension")
            self._d.damage_query_version()  # the protocol wants this before any other request
            self._notify = self._d.extension_event.DamageNotify
            self.woke_at: float | None = None
            self._damage = self._d.screen().root.damage_create(damage.DamageReportNonEmpty)
            self.clear()
        except Exception:
            self._d.close()
            raise

    def _drain(self) -> bool:
        """Read the events that arrived; True when one reported drawing."""
        drawn = False
        while self._d.pending_events():
            drawn |= self._d.next_event().type == self._notify
        return drawn

    def clear(self) -> None:
        """Forget what was drawn so far: ``wait`` reports only drawing after this."""
        self._drain()
        self._d.damage_subtract(self._damage, 0, 0)
        self._d.flush()

    def wait(self, until: float) -> bool:
        """Return True as soon as something was drawn since ``clear``, False at ``until`` (monotonic).
        ``woke_at`` is then when the report came in while waiting (None: it was there already)."""
        self.woke_at = None
        if self._drain():
            return True
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return False
            select.select([self._d.fileno()], [], [], left)
            if self._drain():
                self.woke_at = time.monotonic()
                return True

    def close(self) -> None:
        try:
            self._d.close()
        except Exception:  # noqa: BLE001 - closing a connection the server already dropped
            pass
