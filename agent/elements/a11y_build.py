"""Turn fetched accessibility nodes into ``Element`` s: role, name, value, states, bounds, context.

Why here and not in the fetch: the same rules serve a whole-screen snapshot and the point and focus
queries (which fetch one chain of ancestors), so an element found by ``element_at`` has the id,
name and context the snapshot gives it.

Rules (each from a case met on Chromium or GTK 3):

* kept: nodes whose role maps to ours (``atspi_roles.our_role``); containers (panel, section, form,
  fieldset) only when named — they become ``group`` s; unnamed ones only give context;
* a label without a name takes its text children's; text that repeats its parent's name (a
  heading's, a cell's) or sits in a label is not an element of its own;
* hidden: zero-size, outside the area, outside every clipping ancestor (window, document, scroll
  pane) and the closed option list of a collapsed combobox; partly clipped bounds are cut to what shows;
* ``value``: Text for entries, text areas and editable comboboxes (an autocomplete field; never for a
  password field: ``attrs`` says ``password``), the selected option's name for a combobox, Value for
  spin buttons and sliders;
* context: ``window`` (the nearest frame, window or dialog), ``group`` (the nearest named grouping
  ancestor: a fieldset's legend, a GTK frame's label, a notebook page), ``row`` (the row's cells'
  texts joined by " | "; in a table without row objects (GTK), the cells level with it), ``path``.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.coords import Rect
from agent.elements import atspi_roles as R
from agent.elements.a11y_tree import Node
from agent.elements.atspi_dbus import ACCESSIBLE, COMPONENT, PROPS, SELECTION, TEXT, VALUE, Connection
from agent.elements.model import Element, INTERACTIVE, clean_text
from agent.elements.x11_windows import Box, best_match, covered

__all__ = ["Candidate", "candidates", "finish"]

#: HTML attributes kept on interactive elements of web documents (``Element.attrs``); native
#: toolkits give nothing useful there (GTK: "toolkit: gtk"), so they are not asked.
#: Roles whose name, when the tree gives none, is the text they show (their text children).
_NAMED_BY_TEXT = frozenset({"label", "listitem", "link", "cell", "option", "menuitem", "tab", "heading"})
_ATTRS = {"id": "id", "tag": "tag", "html-input-name": "input-name", "placeholder-text": "placeholder"}
_DOCUMENTS = frozenset(R.ROLE[n] for n in ("document-web", "document-frame"))
_MAX_VALUE = 2000


@dataclass(eq=False)
class Candidate:
    node: Node
    role: str
    name: str
    window: str | None
    group: str | None
    row: str | None
    table: Node | None
    clips: tuple[Node, ...]
    password: bool = False
    index: int = 0
    web: bool = False  # inside a web document


def _text_of(node: Node) -> str:
    return " ".join(t for t in (clean_text(k.name) for k in node.kids if k.role in R.TEXT_PARTS) if t)


def _row_text(row: Node) -> str:
    parts = [clean_text(k.name) or _text_of(k) for k in row.kids]
    return " | ".join(p for p in parts if p)


def candidates(roots: list[Node]) -> list[Candidate]:
    """Every node that may become an element, with its context, depth first in document order."""
    out: list[Candidate] = []
    for root in roots:
        stack = [(root, None, None, None, None, (), False)]
        while stack:
            node, window, group, row, table, clips, collapsed = stack.pop()
            web = any(c.role in _DOCUMENTS for c in clips)
            role = R.our_role(node.role, node.bits)
            name = clean_text(node.name)
            if node.role in R.WINDOWS and name:
                window = name
            if role in _NAMED_BY_TEXT and not name:  # a list item, link or cell says its own text
                name = _text_of(node)
            elif role == "row" and not name:
                name = _row_text(node)
            keep = role is not None and not (collapsed and node.role in R.POPUP_PARTS)
            if node.role in R.CONTAINER and not name:
                keep = False
            parent = node.parent
            if keep and role == "text" and node.role in R.TEXT_PARTS and parent is not None:
                pname = clean_text(parent.name) or (_text_of(parent) if R.ROLE_MAP.get(parent.role) == "label" else "")
                if not name or R.ROLE_MAP.get(parent.role) == "label" or name == pname:
                    keep = False
            if keep and role in ("listitem", "menuitem") and collapsed is False and _in_combo(node):
                role = "option"
            if keep:
                out.append(Candidate(node, role, name, window, group, _row_text(row) if row is not None else None,
                                     table, clips, password=node.role == R.PASSWORD, index=len(out), web=web))
            kid_clips = clips + (node,) if node.role in R.CLIPS else clips
            kid_group = name if (node.role in R.GROUPS and name) else group
            kid_row = node if node.role in R.ROWS else row
            kid_table = node if R.ROLE_MAP.get(node.role) == "table" else table
            kid_collapsed = collapsed or (node.role in R.COMBOS and not node.has("expanded"))
            for k in reversed(node.kids):
                stack.append((k, window, kid_group, kid_row, kid_table, kid_clips, kid_collapsed))
    return out


def _in_combo(node: Node) -> bool:
    n = node.parent
    for _ in range(4):
        if n is None:
            return False
        if n.role in R.COMBOS:
            return True
        n = n.parent
    return False


def finish(conn: Connection, cands: list[Candidate], area: Rect | None, *, attrs: bool = True,
           stack: list[Box] | None = None) -> list[Element]:
    """Read bounds and values (two pipelined batches) and build the elements that can be seen
    (``stack``: the X windows bottom to top, to hide what a higher window covers)."""
    ext_args = conn.v("(u)", (0,))  # screen coordinates
    need: dict[int, Node] = {}
    for c in cands:
        need[id(c.node)] = c.node
        for clip in c.clips:
            need[id(clip)] = clip
    calls, keys = [], []

    def add(key, ref, iface, method, args=None):  # noqa: ANN001, ANN202
        calls.append((ref, iface, method, args))
        keys.append(key)

    for n in need.values():
        if n.extents is None:
            add(("x", id(n)), n.ref, COMPONENT, "GetExtents", ext_args)
    text_args = conn.v("(ii)", (0, -1))
    for i, c in enumerate(cands):
        n = c.node
        if c.password:
            continue
        if c.role in ("entry", "textarea") or (c.role == "spinbox" and n.role in R.TEXT_ROLES) or \
                (n.role in R.COMBOS and n.has("editable")):  # an autocomplete field: its text
            add(("t", i), n.ref, TEXT, "GetText", text_args)
        elif n.role in R.VALUE_ROLES:
            add(("v", i), n.ref, PROPS, "Get", conn.prop_args(VALUE, "CurrentValue"))
        elif n.role in R.COMBOS:  # GTK: the combobox holds the selection; Chromium: its option list
            for ref in [n.ref, *(n.children or [])[:1]]:
                add(("sel", i), ref, SELECTION, "GetSelectedChild", conn.v("(i)", (0,)))
        if c.role in INTERACTIVE and attrs and c.web:
            add(("a", i), n.ref, ACCESSIBLE, "GetAttributes")
        if c.role in INTERACTIVE and not c.name:
            add(("r", i), n.ref, ACCESSIBLE, "GetRelationSet")
    values: dict[int, str] = {}
    attr_of: dict[int, tuple[tuple[str, str], ...]] = {}
    second, skeys = [], []
    name_args = conn.prop_args(ACCESSIBLE, "Name")
    for (kind, key), res in zip(keys, conn.batch(calls)):
        if isinstance(res, Exception) or res is None:
            continue
        if kind == "x":
            need[key].extents = tuple(int(v) for v in res[0])  # type: ignore[assignment]
        elif kind == "t":
            values[key] = (res[0] or "")[:_MAX_VALUE]
        elif kind == "v":
            f = float(res[0])
            values[key] = str(int(f)) if f.is_integer() else f"{f:g}"
        elif kind == "sel" and res[0][1] != "/org/a11y/atspi/null":
            second.append((tuple(res[0]), PROPS, "Get", name_args))
            skeys.append(("sel", key))
        elif kind == "a":
            attr_of[key] = tuple((ours, str(res[0][k])) for k, ours in _ATTRS.items() if res[0].get(k))
        elif kind == "r":
            for rtype, targets in res[0]:
                if rtype == R.LABELLED_BY:
                    for t in targets[:3]:
                        second.append((tuple(t), PROPS, "Get", name_args))
                        skeys.append(("lbl", key))
    for (kind, key), res in zip(skeys, conn.batch(second)):
        if isinstance(res, Exception) or not res or not res[0]:
            continue
        text = clean_text(res[0])
        if kind == "sel":
            values.setdefault(key, text)
        elif text:
            c = cands[key]
            c.name = f"{c.name} {text}".strip()
    return _elements(cands, values, attr_of, area, stack or [])


def _visible(c: Candidate, area: Rect | None) -> Rect | None:
    if c.node.extents is None:
        return None
    x, y, w, h = c.node.extents
    if w <= 0 or h <= 0:
        return None
    box = (x, y, x + w, y + h)
    limits = [clip.extents for clip in c.clips if clip.extents and clip.extents[2] > 0 and clip.extents[3] > 0]
    if area is not None:
        limits.append((int(area.left), int(area.top), int(area.width), int(area.height)))
    for lx, ly, lw, lh in limits:
        box = (max(box[0], lx), max(box[1], ly), min(box[2], lx + lw), min(box[3], ly + lh))
        if box[2] <= box[0] or box[3] <= box[1]:
            return None
    return Rect(box[0], box[1], box[2] - box[0], box[3] - box[1])


def _elements(cands: list[Candidate], values: dict[int, str], attr_of: dict, area: Rect | None,
              stack: list[Box]) -> list[Element]:
    shown: list[tuple[Candidate, Rect]] = []
    levels: dict[int, int | None] = {}
    for c in cands:
        b = _visible(c, area)
        if b is None:
            continue
        top = next((n for n in c.clips if n.role in R.WINDOWS), c.node if c.node.role in R.WINDOWS else None)
        if stack and top is not None and top.extents:
            if id(top) not in levels:
                levels[id(top)] = best_match(top.extents, stack)
            level = levels[id(top)]
            if level is not None and covered(stack, level, b.left + b.width / 2, b.top + b.height / 2):
                continue
        shown.append((c, b))
    by_table: dict[int, list[tuple[Candidate, Rect]]] = {}
    for c, b in shown:
        if c.table is not None and c.role == "cell":
            by_table.setdefault(id(c.table), []).append((c, b))
    out = []
    for c, b in shown:
        row = c.row
        if row is None and c.table is not None and c.role != "table":
            level = [(cb.left, cc.name) for cc, cb in by_table.get(id(c.table), [])
                     if cc.name and b.top <= cb.top + cb.height / 2 < b.bottom]
            row = " | ".join(n for _, n in sorted(level)) or None
        attrs = attr_of.get(c.index, ())
        if c.password:
            attrs = attrs + (("password", "true"),)
        out.append(Element(role=c.role, name=c.name, bounds=b, value=None if c.password else values.get(c.index),
                           states=R.our_states(c.node.bits), source="a11y", window=c.window, group=c.group,
                           row=row, path=c.node.path(), attrs=attrs))
    return out
