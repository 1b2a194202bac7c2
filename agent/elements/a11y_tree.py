"""Fetch the *showing* part of every application's accessibility tree, in a few pipelined batches.

Why this shape: an application's tree holds everything it could show (a closed menu's items, other
notebook pages, Chromium's hidden browser chrome: 250 nodes for a small page, 80 of them on screen).
So the application itself is asked which nodes are showing (``Collection.GetMatches`` with the
SHOWING + VISIBLE states: one call, evaluated inside the application), and only those are read:

1. per application: its name and top-level windows; then (optionally) the windows' bounds, so that a
   window hidden behind others is not read; then per window the showing nodes (document order);
2. the role of every node not seen before (roles do not change; they are cached by object path);
3. the state set and name of every node, and the children of every node that is not a leaf
   (a push button's text child repeats its name): from these the tree is rebuilt, with each node's
   parent and child index. A node whose parent is not showing, or is a leaf, is dropped.

Applications without the Collection interface are walked level by level instead (children, state,
role of a whole level per batch), pruning subtrees that are not showing. Every batch is bounded by
the per-call timeout; an application that times out or dies is skipped for the rest of the fetch
and named in ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.elements import atspi_roles as R
from agent.elements.atspi_dbus import (ACCESSIBLE, COLLECTION, COMPONENT, PROPS, Connection, Ref, decode_refs, decode_states,
                                       decode_str_prop, decode_u32, error_kind)

__all__ = ["Node", "Fetched", "fetch_showing"]

_SHOWN = (R.STATE["showing"], R.STATE["visible"])
_MAX_NODES = 20000  # per application: a runaway tree (a huge table) is cut, with a note
_MAX_DEPTH = 64


@dataclass(eq=False, slots=True)
class Node:
    """One accessible as fetched; ``parent`` / ``kids`` / ``index`` form the showing tree."""

    ref: Ref
    role: int = 0
    bits: int = 0
    name: str = ""
    children: list[Ref] | None = None
    parent: "Node | None" = None
    index: int = -1
    kids: list["Node"] = field(default_factory=list)
    extents: tuple[int, int, int, int] | None = None

    def has(self, state: str) -> bool:
        return R.has_state(self.bits, state)

    def path(self) -> tuple[int, ...]:
        out, n = [], self
        while n.parent is not None and n.index >= 0:
            out.append(n.index)
            n = n.parent
        return tuple(reversed(out))


@dataclass
class App:
    ref: Ref
    name: str = ""
    root: Node | None = None
    nodes: int = 0
    windows: int = 0  # top-level windows
    read: int = 0  # of which were read (not hidden)
    error: str = ""


@dataclass
class Fetched:
    apps: list[App]
    notes: list[str]
    #: bus name -> "timeout" / "gone" for applications that failed (or were skipped) in this fetch
    dead: dict[str, str] = field(default_factory=dict)


class _Batch:
    """Calls for one round, skipping applications already found dead or hung."""

    def __init__(self, conn: Connection, dead: dict[str, str]) -> None:
        self.conn, self.dead, self.calls, self.keys = conn, dead, [], []

    def add(self, key, ref: Ref, iface: str, method: str, args=None, decode=None) -> None:  # noqa: ANN001
        if ref[0] not in self.dead:
            self.calls.append((ref, iface, method, args, decode))
            self.keys.append(key)

    def run(self) -> list[tuple[object, object]]:
        out = []
        for key, (ref, *_), res in zip(self.keys, self.calls, self.conn.batch(self.calls)):
            if isinstance(res, Exception):
                kind = error_kind(res)
                if kind in ("timeout", "gone") and ref[0] not in self.dead:
                    self.dead[ref[0]] = kind
                res = None if kind != "unsupported" else _UNSUPPORTED
            out.append((key, res))
        return out


_UNSUPPORTED = object()


def fetch_showing(conn: Connection, role_cache: dict[Ref, int], apps: list[Ref] | None = None,
                  skip: frozenset[str] = frozenset(),
                  visible: Callable[[tuple[int, int, int, int]], bool] | None = None) -> Fetched:
    """The showing tree of every application on the bus (or of ``apps``).

    Applications whose bus name is in ``skip`` (they timed out a moment ago) are not asked and count
    as timed out. With ``visible`` (a test of a top-level window's screen box: not covered by other
    windows, not off-screen), only the windows that pass are read: a window hidden behind another
    costs one GetExtents instead of its whole tree."""
    dead: dict[str, str] = dict.fromkeys(skip, "timeout")
    apps = conn.applications() if apps is None else apps
    out = [App(ref) for ref in apps]
    b = _Batch(conn, dead)
    for i, a in enumerate(out):
        b.add(("n", i), a.ref, PROPS, "Get", conn.prop_args(ACCESSIBLE, "Name"), decode_str_prop)
        b.add(("c", i), a.ref, ACCESSIBLE, "GetChildren", None, decode_refs)
    tops: dict[int, list[Ref]] = {}
    for (kind, i), res in b.run():
        if res is None or res is _UNSUPPORTED:
            continue
        if kind == "n":
            out[i].name = res[0]
        else:
            tops[i] = res[0]
    # which top-level windows to read
    shown: dict[int, list[Ref]] = {i: list(t) for i, t in tops.items()}
    boxes: dict[Ref, tuple] = {}
    if visible is not None:
        b = _Batch(conn, dead)
        ext = conn.v("(u)", (0,))
        for i, frames in tops.items():
            for f in frames:
                b.add((i, f), f, COMPONENT, "GetExtents", ext)
        boxes = {key[1]: tuple(res[0]) for key, res in b.run() if res is not None and res is not _UNSUPPORTED}
        shown = {i: [f for f in frames if f not in boxes or visible(boxes[f])] for i, frames in tops.items()}
    rule = conn.matches_args(conn.match_rule(_SHOWN))
    b = _Batch(conn, dead)
    for i, frames in shown.items():
        for f in frames:
            b.add((i, f), f, COLLECTION, "GetMatches", rule, decode_refs)
    nodes: dict[Ref, Node] = {}
    fallback: set[int] = set()
    counts: dict[int, int] = {}
    for (i, f), res in b.run():
        if res is None:
            continue
        if res is _UNSUPPORTED:
            fallback.add(i)
            continue
        refs = res[0][:_MAX_NODES]
        counts[i] = counts.get(i, 0) + len(refs)
        nodes[f] = Node(f, extents=boxes.get(f))  # a window is not among its own descendants
        for ref in refs:
            nodes[ref] = Node(ref)
    _read(conn, dead, nodes, role_cache)
    for i, a in enumerate(out):
        a.root = Node(a.ref, role=R.ROLE["application"], name=a.name, children=shown.get(i, []))
        if i in fallback and a.ref[0] not in dead:
            _walk(conn, dead, a.root, role_cache)
        else:
            _link(a.root, nodes)
        a.nodes = _count(a.root) - 1
        a.windows, a.read = len(tops.get(i, ())), len(shown.get(i, ()))
    notes = []
    for i, a in enumerate(out):
        why = dead.get(a.ref[0])
        if why:
            a.error = "did not answer (timed out)" if why == "timeout" else "exited or its tree vanished"
            notes.append(f"application {a.name or a.ref[0]!r} {a.error} while its tree was read; skipped")
        if counts.get(i, 0) >= _MAX_NODES:
            notes.append(f"application {a.name!r} shows more than {_MAX_NODES} nodes; the rest were left out")
    return Fetched(out, notes, dead)


def _read(conn: Connection, dead: dict[str, str], nodes: dict[Ref, Node], role_cache: dict[Ref, int],
          walking: bool = False) -> None:
    """Roles (cached), then states (of what may become an element; of everything when ``walking``,
    which prunes by them), names (not of fillers) and children (not of leaves)."""
    b = _Batch(conn, dead)
    for ref in nodes:
        if ref not in role_cache:
            b.add(ref, ref, ACCESSIBLE, "GetRole", None, decode_u32)
    for ref, res in b.run():
        if res is not None and res is not _UNSUPPORTED:
            role_cache[ref] = int(res[0])
    name_args = conn.prop_args(ACCESSIBLE, "Name")
    b = _Batch(conn, dead)
    for ref, n in nodes.items():
        n.role = role_cache.get(ref, 0)
        element = R.ROLE_MAP.get(n.role) is not None
        if (element and n.role not in R.CONTAINER) or walking:  # a container's states say nothing we use
            b.add(("s", ref), ref, ACCESSIBLE, "GetState", None, decode_states)
        if element:  # fillers, separators, redundant objects: never named
            b.add(("n", ref), ref, PROPS, "Get", name_args, decode_str_prop)
        if n.role not in R.LEAF:
            b.add(("c", ref), ref, ACCESSIBLE, "GetChildren", None, decode_refs)
    for (kind, ref), res in b.run():
        if res is None or res is _UNSUPPORTED:
            continue
        n = nodes[ref]
        if kind == "s":
            n.bits = R.state_bits(res[0])
        elif kind == "n":
            n.name = res[0] or ""
        else:
            n.children = res[0]


def _link(root: Node, nodes: dict[Ref, Node]) -> None:
    """Rebuild the tree from children lists: depth first from the application, showing nodes only."""
    stack = [(root, 0)]
    seen = {root.ref}
    while stack:
        node, depth = stack.pop()
        if depth >= _MAX_DEPTH:
            continue
        for idx, cref in enumerate(node.children or ()):
            child = nodes.get(cref)
            if child is None or cref in seen:
                continue
            seen.add(cref)
            child.parent, child.index = node, idx
            node.kids.append(child)
        stack.extend((k, depth + 1) for k in reversed(node.kids))


def _walk(conn: Connection, dead: dict[str, str], root: Node, role_cache: dict[Ref, int]) -> None:
    """Level-by-level walk for applications without Collection, pruning what is not showing."""
    level = [root]
    depth = total = 0
    while level and depth < _MAX_DEPTH and total < _MAX_NODES:
        kids: dict[Ref, Node] = {}
        for parent in level:
            for idx, cref in enumerate(parent.children or ()):
                if cref not in kids:
                    kid = Node(cref, parent=parent, index=idx)
                    kids[cref] = kid
        _read(conn, dead, kids, role_cache, walking=True)
        level = []
        for kid in kids.values():
            if kid.has("showing") and kid.has("visible"):
                kid.parent.kids.append(kid)  # type: ignore[union-attr]
                level.append(kid)
        total += len(level)
        depth += 1
    for n in _iter(root):
        n.kids.sort(key=lambda k: k.index)


def _iter(root: Node):  # noqa: ANN202
    stack = [root]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.kids))


def iter_nodes(root: Node):  # noqa: ANN201
    """Every node under ``root`` (``root`` first), depth first in document order."""
    return _iter(root)


def _count(root: Node) -> int:
    return sum(1 for _ in _iter(root))
