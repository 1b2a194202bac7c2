"""AT-SPI2 spoken directly over D-Bus (Gio), with per-call timeouts and pipelined batches.

Why not libatspi (``gi.repository.Atspi``) or ``pyatspi`` on top of it: both send one blocking
D-Bus call per property and wait for each answer, so a snapshot costs (calls x round trip); on this
machine a pyatspi walk of a 250-node Chromium page took 150-250 ms. libatspi also binds to one bus
per process, at first use, from the environment, caches properties that only events dispatched by a
GLib main loop refresh (we run none), and has one global timeout. Here a ``Connection`` is one
``Gio.DBusConnection`` to an explicit accessibility bus address (thread-safe; several desktops in
one process are fine); ``batch`` sends many calls at once and collects the answers, so the cost is
the applications' work plus our unpacking, not the sum of round trips; every call carries its own
timeout, so a hung application costs one timeout per batch, never a hang.

The AT-SPI2 D-Bus protocol is stable (roles and states are only ever appended); the numbers used
by callers live in ``agent.elements.atspi_roles``. Finding the bus follows libatspi's order:
``AT_SPI_BUS_ADDRESS``, the ``AT_SPI_BUS`` property on the X root window of the display, then
``org.a11y.Bus.GetAddress`` on the session bus.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["A11yUnavailable", "Connection", "Ref", "find_bus_address", "DEFAULT_TIMEOUT_MS", "decode_refs",
           "decode_u32", "decode_str_prop", "decode_states"]

#: (unique bus name, object path) of one accessible.
Ref = tuple[str, str]
#: One call in a batch: (ref, interface, method, GLib.Variant args or None[, decoder]).
Call = tuple

DEFAULT_TIMEOUT_MS = 1500
REGISTRY: Ref = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
ACCESSIBLE = "org.a11y.atspi.Accessible"
COMPONENT = "org.a11y.atspi.Component"
COLLECTION = "org.a11y.atspi.Collection"
TEXT = "org.a11y.atspi.Text"
VALUE = "org.a11y.atspi.Value"
SELECTION = "org.a11y.atspi.Selection"
PROPS = "org.freedesktop.DBus.Properties"
NULL_PATH = "/org/a11y/atspi/null"


class A11yUnavailable(Exception):
    """No accessibility bus can be reached (none started, no binding): the message says why and what to do."""


def _gi():  # noqa: ANN202
    try:
        import gi

        from gi.repository import Gio, GLib
    except ImportError as e:
        raise A11yUnavailable(f"the GObject binding (python3-gi) is missing ({e}); Debian/Ubuntu: apt-get install "
                              "python3-gi, and use a Python that sees it (a venv with --system-site-packages)") from None
    del gi
    return Gio, GLib


def _x_root_property(display: str | None) -> str | None:
    """``AT_SPI_BUS`` on the root window of ``display`` (at-spi-bus-launcher sets it), or None."""
    if not display:
        return None
    try:
        from Xlib import X
        from Xlib import display as xdisplay
    except ImportError:
        return None
    try:
        d = xdisplay.Display(display)
    except Exception:  # noqa: BLE001 - no such display
        return None
    try:
        prop = d.screen().root.get_full_property(d.intern_atom("AT_SPI_BUS"), X.AnyPropertyType)
        if prop is None or not prop.value:
            return None
        v = prop.value
        return (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)).strip("\0 ") or None
    except Exception:  # noqa: BLE001
        return None
    finally:
        d.close()


def find_bus_address(display: str | None = None, env: dict[str, str] | None = None) -> str:
    """The accessibility bus of ``display`` (default ``$DISPLAY``), or ``A11yUnavailable`` saying why not."""
    env = dict(os.environ if env is None else env)
    if env.get("AT_SPI_BUS_ADDRESS") and (display is None or display == env.get("DISPLAY")):
        return env["AT_SPI_BUS_ADDRESS"]
    display = display or env.get("DISPLAY")
    addr = _x_root_property(display)
    if addr:
        return addr
    session = env.get("DBUS_SESSION_BUS_ADDRESS")
    if session:
        Gio, _ = _gi()
        try:
            conn = _connect(Gio, session)
            try:
                reply = conn.call_sync("org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress", None, None,
                                       0, 2000, None)
                if reply.unpack()[0]:
                    return reply.unpack()[0]
            finally:
                conn.close_sync(None)
        except Exception:  # noqa: BLE001 - no launcher on that session bus
            pass
    raise A11yUnavailable(
        f"no accessibility bus on display {display or '(none)'}: start the virtual desktop with accessibility "
        "(VirtualDesktop(accessibility=True), `agent desktop --a11y`) or log in to a desktop session that runs "
        "at-spi-bus-launcher (Debian/Ubuntu package at-spi2-core); `agent doctor` checks it")


def _connect(Gio, address: str):  # noqa: ANN001, ANN202, N803
    flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
    return Gio.DBusConnection.new_for_address_sync(address, flags, None, None)


class Connection:
    """One connection to an accessibility bus. Any thread may use it: Gio's connection is thread-safe
    and each batch runs its own GLib main context in the calling thread."""

    def __init__(self, address: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        Gio, GLib = _gi()
        self._Gio, self._GLib = Gio, GLib
        self.address = address
        self.timeout_ms = timeout_ms
        try:
            self._conn = _connect(Gio, address)
        except Exception as e:  # noqa: BLE001 - GLib.Error
            raise A11yUnavailable(f"cannot connect to the accessibility bus {address}: {_message(e)}") from None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------- variants
    def v(self, fmt: str, value: Any):  # noqa: ANN201 - GLib.Variant
        return self._GLib.Variant(fmt, value)

    def prop_args(self, iface: str, name: str):  # noqa: ANN201
        return self._GLib.Variant("(ss)", (iface, name))

    # ---------------------------------------------------------------------------------- calls
    def call(self, ref: Ref, iface: str, method: str, args: Any = None, *, timeout_ms: int | None = None) -> tuple:
        """One blocking call; its unpacked reply tuple. Raises ``GLib.Error`` (see ``error_kind``)."""
        reply = self._conn.call_sync(ref[0], ref[1], iface, method, args, None, 0,
                                     timeout_ms or self.timeout_ms, None)
        return reply.unpack()

    def prop(self, ref: Ref, iface: str, name: str) -> Any:
        return self.call(ref, PROPS, "Get", self.prop_args(iface, name))[0]

    def batch(self, calls: Sequence[Call], *, timeout_ms: int | None = None) -> list[Any]:
        """Send all ``calls`` at once; their replies, in order (an exception object where a call
        failed), unpacked or through the call's decoder (a fifth element, e.g. ``decode_refs``).
        Bounded by the per-call timeout, however many calls there are."""
        if not calls:
            return []
        GLib = self._GLib
        ctx = GLib.MainContext.new()
        out: list[Any] = [None] * len(calls)
        left = [len(calls)]
        timeout = timeout_ms or self.timeout_ms

        decoders = [c[4] if len(c) > 4 and c[4] is not None else _unpack for c in calls]

        def done(conn, res, i):  # noqa: ANN001
            try:
                out[i] = decoders[i](conn.call_finish(res))
            except Exception as e:  # noqa: BLE001 - GLib.Error: dead or hung app, missing interface
                out[i] = e
            left[0] -= 1

        ctx.push_thread_default()
        try:
            for i, (ref, iface, method, args, *_) in enumerate(calls):
                self._conn.call(ref[0], ref[1], iface, method, args, None, 0, timeout, None, done, i)
            while left[0] > 0:
                ctx.iteration(True)
        finally:
            ctx.pop_thread_default()
        return out

    # ------------------------------------------------------------------------------ helpers
    def applications(self) -> list[Ref]:
        """The registry's children: one root accessible per application on this bus."""
        return [tuple(r) for r in self.call(REGISTRY, ACCESSIBLE, "GetChildren")[0]]

    def match_rule(self, states: Sequence[int] = (), roles: Sequence[int] = (), *, any_state: bool = False):  # noqa: ANN201
        """A Collection match rule: all (or, with ``any_state``, any) of ``states`` and any of ``roles``."""
        sbits = [0, 0]
        for s in states:
            sbits[s // 32] |= 1 << (s % 32)
        rbits = [0, 0, 0, 0]
        for r in roles:
            rbits[r // 32] |= 1 << (r % 32)
        # match types: 1 ALL, 2 ANY, 3 NONE (an empty set with NONE matches everything)
        smatch = (2 if any_state else 1) if states else 3
        rmatch = 2 if roles else 3
        return (_signed(sbits), smatch, {}, 3, _signed(rbits), rmatch, [], 3, False)

    def matches_args(self, rule, count: int = 0):  # noqa: ANN001, ANN201
        # sort 1 = canonical (document order); count 0 = all; traverse = True (the whole subtree)
        return self.v("((aiia{ss}iaiiasib)uib)", (rule, 1, count, True))

    def close(self) -> None:
        try:
            self._conn.close_sync(None)
        except Exception:  # noqa: BLE001
            pass


# Decoders: GLib.Variant.unpack() is pure Python and costs ~10 us per array element; these read the
# few shapes a snapshot receives by the thousand directly (results keep unpack's tuple shape).
_REF_TEXT = re.compile(r"\('([^']*)', (?:objectpath )?'([^']*)'\)")


def _unpack(v):  # noqa: ANN001, ANN202
    return v.unpack()


def decode_refs(v) -> tuple[list[Ref]]:  # noqa: ANN001 - "(a(so))": GetChildren, GetMatches
    """Bus names and object paths never contain quotes, so the printed form parses safely (in C)."""
    return (_REF_TEXT.findall(v.print_(False)),)


def decode_u32(v) -> tuple[int]:  # noqa: ANN001 - "(u)": GetRole
    return (v.get_child_value(0).get_uint32(),)


def decode_str_prop(v) -> tuple[str]:  # noqa: ANN001 - "(v)" holding "s": Properties.Get of a name
    return (v.get_child_value(0).get_variant().get_string(),)


def decode_states(v) -> tuple[tuple[int, int]]:  # noqa: ANN001 - "(au)": GetState
    a = v.get_child_value(0)
    return ((a.get_child_value(0).get_uint32(), a.get_child_value(1).get_uint32()),)


def _signed(bits: list[int]) -> list[int]:
    """D-Bus ``ai`` holds int32: bit 31 set means a negative number."""
    return [b - (1 << 32) if b >= 1 << 31 else b for b in bits]


def _message(e: BaseException) -> str:
    return getattr(e, "message", None) or str(e)


def error_kind(e: BaseException) -> str:
    """``timeout`` (a hung application), ``gone`` (it exited or the object died), ``unsupported`` (no such
    interface or method) or ``other``."""
    msg = _message(e)
    if any(s in msg for s in ("UnknownMethod", "UnknownInterface", "UnknownProperty", "InvalidArgs")):
        return "unsupported"
    if "Timeout" in msg or "timed out" in msg.lower() or "NoReply" in msg:
        return "timeout"
    if any(s in msg for s in ("ServiceUnknown", "NameHasNoOwner", "UnknownObject", "no longer exists",
                              "Disconnected", "does not exist")):
        return "gone"
    return "other"
