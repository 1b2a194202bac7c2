"""The accessibility source of the screen element model (Linux, AT-SPI2).

    src = A11ySource(display=":99")          # finds that desktop's accessibility bus
    elements = src.snapshot()                # every showing element of every application
    src.element_at(640, 400)                 # what is under a point (the risky-action gate asks)
    src.focused()                            # what has keyboard focus (the recorder asks)

Why: the accessibility tree names what a person reads (an entry's label, a button's caption, the
selected option) and gives exact screen bounds, so grounding by role and name works on layouts
nobody has seen. Where an application publishes nothing (Tk 8.6, a canvas, a remote desktop) the
visual source covers it; ``notes`` say which applications gave no tree.

How (see ``a11y_tree`` / ``a11y_build``): each application is asked for its showing nodes with one
``Collection.GetMatches``; their roles (cached by object path), states, names and children, then
bounds and values, are read in pipelined D-Bus batches. Windows wholly covered by others (X
stacking order) are not read, and elements a higher window covers are left out. ``bench/a11y_snapshot.py``
measures it (a 250-node Chromium page: 30-60 ms per snapshot on 2 busy cores, against 150-250 ms
for a plain pyatspi walk).

Robustness: every D-Bus call has its own timeout (``timeout_ms``, default 1.5 s); an application
that hangs or dies costs at most one timeout per batch and is named in ``notes``. With no bus,
``snapshot`` returns ``[]``, ``element_at`` / ``focused`` return ``None`` and ``unavailable`` says
why; nothing raises.

Threads: any thread may call; calls on one source are serialized by a lock (each batch runs its own
GLib main context in the calling thread, and the D-Bus connection is thread-safe).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import NamedTuple

from actions.coords import Rect
from agent.elements import atspi_roles as R
from agent.elements.a11y_build import candidates, finish
from agent.elements.a11y_tree import Node, fetch_showing, iter_nodes
from agent.elements.atspi_dbus import (ACCESSIBLE, COLLECTION, COMPONENT, DEFAULT_TIMEOUT_MS, NULL_PATH, PROPS,
                                       A11yUnavailable, Connection, Ref, decode_refs, decode_states, decode_str_prop,
                                       decode_u32, error_kind, find_bus_address)
from agent.elements.model import INTERACTIVE, Element, ScreenModel, sort_elements
from agent.elements.x11_windows import XWindows, best_match, shows

__all__ = ["A11ySource", "A11yUnavailable", "AppInfo"]

_ROLE_CACHE_MAX = 100_000
_MAX_CHAIN = 64
#: An application that timed out is not asked again for this long (each try costs a timeout).
_HUNG_RETRY_S = 3.0


class AppInfo(NamedTuple):
    """One application on the bus, for ``agent doctor``: its name, how many showing nodes its
    windows have, and what went wrong reading it (empty when nothing did)."""

    name: str
    nodes: int
    error: str = ""


class A11ySource:
    """Elements from the accessibility trees of the applications on one desktop.

    ``display`` names the desktop (default ``$DISPLAY``); ``address`` the accessibility bus directly
    (``AccessibilityBus.address``). ``last_notes`` / ``last_timings`` describe the latest snapshot.
    """

    def __init__(self, display: str | None = None, *, address: str | None = None,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, attributes: bool = True) -> None:
        self.display = display
        self.timeout_ms = timeout_ms
        self.attributes = attributes
        self._address = address
        self._conn: Connection | None = None
        self._roles: dict[Ref, int] = {}
        self._hung: dict[str, float] = {}  # bus name -> when it timed out
        self._x = XWindows(display)
        self._lock = threading.Lock()
        self.unavailable: str | None = None
        self.last_notes: list[str] = []
        self.last_timings: dict[str, float] = {}

    # --------------------------------------------------------------------------- connection
    def _connection(self) -> Connection | None:
        if self._conn is not None:
            return self._conn
        try:
            address = self._address or find_bus_address(self.display)
            self._conn = Connection(address, timeout_ms=self.timeout_ms)
            self._conn.applications()
        except A11yUnavailable as e:
            self.unavailable = str(e)
            self._conn = None
            return None
        except Exception as e:  # noqa: BLE001 - GLib.Error: the registry does not answer
            self.unavailable = f"the accessibility bus does not answer ({getattr(e, 'message', e)})"
            self._conn = None
            return None
        self.unavailable = None
        return self._conn

    @property
    def available(self) -> bool:
        with self._lock:
            return self._connection() is not None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._x.close()

    def __enter__(self) -> "A11ySource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- snapshot
    def snapshot(self, area: Rect | None = None) -> list[Element]:
        """Every showing, visible element of every application, in reading order (``[]`` without a bus)."""
        with self._lock:
            t0 = time.perf_counter()
            conn = self._connection()
            if conn is None:
                self.last_notes, self.last_timings = [self.unavailable or "accessibility unavailable"], {}
                return []
            if area is None:
                area = self._x.screen()
            stack = self._x.stack()
            try:
                fetched = self._fetch(conn, stack)
            except Exception as e:  # noqa: BLE001 - the registry itself stopped answering
                self._drop(f"the accessibility registry stopped answering ({getattr(e, 'message', e)})")
                return []
            t1 = time.perf_counter()
            self._name_windows(fetched.apps, stack)
            cands = candidates([a.root for a in fetched.apps if a.root is not None])
            elements = finish(conn, cands, area, attrs=self.attributes, stack=stack)
            t2 = time.perf_counter()
            if len(self._roles) > _ROLE_CACHE_MAX:
                self._roles.clear()
            notes = list(fetched.notes)
            bare = [a.name or a.ref[0] for a in fetched.apps if not a.error and a.read and a.nodes <= a.read]
            if bare:
                notes.append("no accessibility tree from: " + ", ".join(map(repr, bare)))
            self.last_notes = notes
            self.last_timings = {"tree": t1 - t0, "elements": t2 - t1, "total": t2 - t0}
            return list(sort_elements(elements))

    def model(self, area: Rect | None = None) -> ScreenModel:
        """``snapshot`` as a ``ScreenModel`` (area, timings, notes)."""
        els = self.snapshot(area)
        with self._lock:
            a = area or self._x.screen() or Rect(0, 0, 0, 0)
        return ScreenModel(tuple(els), a, taken_at=time.time(), sources=("a11y",) if els else (),
                           timings={"a11y": self.last_timings.get("total", 0.0)}, notes=tuple(self.last_notes))

    def applications(self) -> list[AppInfo]:
        """Each application on the bus with its count of showing nodes (``[]`` without a bus)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return []
            try:
                fetched = self._fetch(conn)
            except Exception as e:  # noqa: BLE001 - the registry stopped answering
                self._drop(f"the accessibility registry stopped answering ({getattr(e, 'message', e)})")
                return []
            return [AppInfo(a.name or a.ref[0], a.nodes, a.error) for a in fetched.apps]

    def _name_windows(self, apps: list, stack: list) -> None:
        """A window without an accessible name (GTK 3 with a header bar) takes its X title."""
        unnamed = [f for a in apps if a.root is not None for f in a.root.kids
                   if f.role in R.WINDOWS and not f.name.strip() and f.extents]
        if not unnamed or not stack:
            return
        titled = self._x.titled()
        for f in unnamed:
            f.name = _title_for(f.extents, titled)

    def windows(self) -> list[tuple[str, str, tuple[int, int, int, int]]]:
        """(application, window name, screen box) of every top-level accessible window (``[]`` without a bus)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return []
            try:
                apps = conn.applications()
            except Exception:  # noqa: BLE001
                return []
            res = conn.batch([(a, ACCESSIBLE, "GetChildren", None, decode_refs) for a in apps] +
                             [(a, PROPS, "Get", conn.prop_args(ACCESSIBLE, "Name"), decode_str_prop) for a in apps])
            frames = [(app_name[0] if not isinstance(app_name, Exception) else a[0], f)
                      for a, kids, app_name in zip(apps, res[:len(apps)], res[len(apps):])
                      if not isinstance(kids, Exception) for f in kids[0]]
            info = conn.batch([(f, COMPONENT, "GetExtents", conn.v("(u)", (0,))) for _, f in frames] +
                              [(f, PROPS, "Get", conn.prop_args(ACCESSIBLE, "Name"), decode_str_prop) for _, f in frames])
            n = len(frames)
            return [(app, "" if isinstance(nm, Exception) else nm[0], tuple(ext[0]))
                    for (app, _), ext, nm in zip(frames, info[:n], info[n:]) if not isinstance(ext, Exception)]

    def x_windows(self) -> list[tuple[tuple[int, int, int, int], str]]:
        """The display's viewable top-level X windows with titles, bottom to top."""
        with self._lock:
            return self._x.titled()

    def _fetch(self, conn: Connection, stack: list | None = None):  # noqa: ANN202 - a11y_tree.Fetched
        """The showing trees; with ``stack`` (the X windows) windows wholly hidden are not read."""
        now = time.monotonic()
        skip = frozenset(b for b, t in self._hung.items() if now - t < _HUNG_RETRY_S)
        screen = self._x.screen()
        visible = (lambda box: shows(box, stack, screen)) if stack is not None else None
        fetched = fetch_showing(conn, self._roles, skip=skip, visible=visible)
        for bus, kind in fetched.dead.items():
            if kind == "timeout" and bus not in skip:
                self._hung[bus] = now
        for a in fetched.apps:
            if a.ref[0] not in fetched.dead:
                self._hung.pop(a.ref[0], None)
        return fetched

    def _drop(self, why: str) -> None:
        self.unavailable = why
        self.last_notes, self.last_timings = [why], {}
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -------------------------------------------------------------------------- point queries
    def element_at(self, x: float, y: float) -> Element | None:
        """The element under screen point (x, y): the innermost one a person would name there (a
        button rather than its text), or None (no bus, no application window there)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                frame = self._frame_at(conn, int(x), int(y))
                if frame is None:
                    return None
                args = conn.v("(iiu)", (int(x), int(y), 0))
                hit, seen = frame, {frame}
                for _ in range(_MAX_CHAIN):
                    nxt = tuple(conn.call(hit, COMPONENT, "GetAccessibleAtPoint", args)[0])
                    if nxt[1] == NULL_PATH or nxt in seen:
                        break
                    seen.add(nxt)
                    hit = nxt
                return self._element_for(conn, hit, prefer_interactive=True)
            except Exception:  # noqa: BLE001 - the application died or hung mid-query
                return None

    def focused(self) -> Element | None:
        """The element with keyboard focus (in the active window when several applications claim one)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                apps = self._answering(conn)
                rule = conn.matches_args(conn.match_rule((R.STATE["focused"],)))
                res = self._note_hung(apps, conn.batch([(a, COLLECTION, "GetMatches", rule, decode_refs) for a in apps]))
                hits = [tuple(r[0][-1]) for r in res if not isinstance(r, Exception) and r and r[0]]
                if not hits:
                    return None
                best = None
                for ref in hits:
                    el, active = self._element_for(conn, ref, prefer_interactive=False, want_active=True)
                    if el is not None and (best is None or active):
                        best = el
                        if active:
                            break
                return best
            except Exception:  # noqa: BLE001
                return None

    def _frame_at(self, conn: Connection, x: int, y: int) -> Ref | None:
        """The top-level accessible (a frame) under the point: the one matching the topmost X window
        there, else the smallest containing frame."""
        apps = self._answering(conn)
        res = self._note_hung(apps, conn.batch([(a, ACCESSIBLE, "GetChildren", None, decode_refs) for a in apps]))
        frames = [tuple(f) for r in res if not isinstance(r, Exception) for f in r[0]]
        ext = conn.batch([(f, COMPONENT, "GetExtents", conn.v("(u)", (0,))) for f in frames])
        boxes = [(f, tuple(e[0])) for f, e in zip(frames, ext) if not isinstance(e, Exception)]
        inside = [(f, b) for f, b in boxes if b[2] > 0 and b[3] > 0 and b[0] <= x < b[0] + b[2] and b[1] <= y < b[1] + b[3]]
        if not inside:
            return None
        stack = self._x.stack()
        here = [w for w in stack if w[0] <= x < w[0] + w[2] and w[1] <= y < w[1] + w[3]]
        if here:  # the topmost X window at the point decides; None if it publishes no tree (Tk)
            i = best_match(here[-1], [b for _, b in inside])
            return inside[i][0] if i is not None else None
        return min(inside, key=lambda fb: fb[1][2] * fb[1][3])[0]

    def _answering(self, conn: Connection) -> list[Ref]:
        """The applications, less those that timed out a moment ago."""
        now = time.monotonic()
        return [a for a in conn.applications() if now - self._hung.get(a[0], -1e9) >= _HUNG_RETRY_S]

    def _note_hung(self, apps: list[Ref], results: list) -> list:
        for a, r in zip(apps, results):
            if isinstance(r, Exception) and error_kind(r) == "timeout":
                self._hung[a[0]] = time.monotonic()
        return results

    def _chain(self, conn: Connection, ref: Ref) -> Node:
        """``ref`` and its ancestors up to the application, as a one-branch tree; returns the root.
        One pipelined round per level; child indices come from the parent's children (as in a
        snapshot, so the path and id agree)."""
        name_args, parent_args = conn.prop_args(ACCESSIBLE, "Name"), conn.prop_args(ACCESSIBLE, "Parent")
        nodes: list[Node] = []
        cur = ref
        for _ in range(_MAX_CHAIN):
            role, state, name, parent, kids = conn.batch([
                (cur, ACCESSIBLE, "GetRole", None, decode_u32), (cur, ACCESSIBLE, "GetState", None, decode_states),
                (cur, PROPS, "Get", name_args, decode_str_prop), (cur, PROPS, "Get", parent_args),
                (cur, ACCESSIBLE, "GetChildren", None, decode_refs)])
            if isinstance(role, Exception) or isinstance(state, Exception):
                raise role if isinstance(role, Exception) else state
            n = Node(cur, role=int(role[0]), bits=R.state_bits(state[0]),
                     name="" if isinstance(name, Exception) else (name[0] or ""),
                     children=None if isinstance(kids, Exception) else [tuple(k) for k in kids[0]])
            nodes.append(n)
            if n.role == R.ROLE["application"] or isinstance(parent, Exception):
                break
            cur = tuple(parent[0])
            if cur[1] == NULL_PATH:
                break
        for child, parent in zip(nodes, nodes[1:]):
            child.parent = parent
            parent.kids = [child]
            child.index = (parent.children or []).index(child.ref) if child.ref in (parent.children or []) else -1
        return nodes[-1]

    def _element_for(self, conn: Connection, ref: Ref, *, prefer_interactive: bool, want_active: bool = False):
        root = self._chain(conn, ref)
        chain = list(iter_nodes(root))  # root .. hit
        for n in chain[:3]:  # the top-level window, named as a snapshot names it
            if n.role in R.WINDOWS and not n.name.strip():
                box = conn.call(n.ref, COMPONENT, "GetExtents", conn.v("(u)", (0,)))[0]
                n.name = _title_for(tuple(box), self._x.titled())
        _add_row_cells(conn, chain)
        cands = candidates([root])
        by_node = {id(c.node): c for c in cands}
        pick = None
        for n in reversed(chain):  # innermost first
            c = by_node.get(id(n))
            if c is None:
                continue
            if pick is None:
                pick = c
            if not prefer_interactive or c.role in _INTERACTIVE or n.role in R.WINDOWS:
                if prefer_interactive and c.role in _INTERACTIVE:
                    pick = c
                break
        result = None
        if pick is not None:
            els = finish(conn, [replace(pick, index=0)], None, attrs=self.attributes)  # no occlusion: it is on top
            result = els[0] if els else None
        if want_active:
            active = any(n.role in R.WINDOWS and n.has("active") for n in chain)
            return result, active
        return result


_INTERACTIVE = INTERACTIVE


def _title_for(box: tuple[int, int, int, int], titled: list) -> str:
    i = best_match(box, [b for b, _ in titled])
    return titled[i][1] if i is not None else ""


def _add_row_cells(conn: Connection, chain: Iterable[Node]) -> None:
    """Give a table row in the chain its cells (with names), so ``row`` is the row's text."""
    for n in chain:
        if n.role in R.ROWS and n.children:
            cells = [c for c in n.children if not any(k.ref == c for k in n.kids)]
            name_args = conn.prop_args(ACCESSIBLE, "Name")
            res = conn.batch([(c, PROPS, "Get", name_args) for c in cells] +
                             [(c, ACCESSIBLE, "GetRole", None) for c in cells])
            names, roles = res[:len(cells)], res[len(cells):]
            extra = [Node(c, role=int(r[0]), name=nm[0] or "", parent=n, index=i)
                     for i, (c, nm, r) in enumerate(zip(cells, names, roles))
                     if not isinstance(nm, Exception) and not isinstance(r, Exception)]
            order = {ref: i for i, ref in enumerate(n.children)}
            n.kids = sorted([*n.kids, *extra], key=lambda k: order.get(k.ref, 0))
            return
