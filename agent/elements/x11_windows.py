"""What the accessibility tree does not know about an X display: the screen's size and the stacking
order of top-level windows.

Why: AT-SPI has no stacking order, so when two applications' windows overlap the tree alone cannot
say which one a person sees or a click reaches; the X server can (``QueryTree`` lists the root's
children bottom to top). Elements of a window covered by a higher one are hidden from a snapshot,
and ``element_at`` descends into the window that is on top at the point. The registry's desktop
object reports a fixed 1024x768 on Xvfb, so the screen rectangle comes from X too.

``XWindows`` keeps one connection; it is not thread-safe (the accessibility source calls it under
its lock). Without python-xlib or a display every answer is ``None`` / empty.
"""

from __future__ import annotations

import os

from actions.coords import Rect

__all__ = ["XWindows", "Box", "best_match", "iou"]

#: (x, y, width, height) in screen pixels.
Box = tuple[int, int, int, int]


class XWindows:
    def __init__(self, display: str | None) -> None:
        self.name = display or os.environ.get("DISPLAY") or ""
        self._d = None
        self._screen: Rect | None = None

    def _display(self):  # noqa: ANN202
        if self._d is None and self.name:
            try:
                from Xlib import display as xdisplay

                self._d = xdisplay.Display(self.name)
            except Exception:  # noqa: BLE001 - no python-xlib, no such display
                self._d = None
        return self._d

    def screen(self) -> Rect | None:
        if self._screen is None:
            d = self._display()
            if d is not None:
                s = d.screen()
                self._screen = Rect(0, 0, s.width_in_pixels, s.height_in_pixels)
        return self._screen

    def stack(self) -> list[Box]:
        """Viewable top-level windows (children of the root; with a window manager, its frames),
        bottom to top."""
        d = self._display()
        if d is None:
            return []
        try:
            from Xlib import X

            children = d.screen().root.query_tree().children
        except Exception:  # noqa: BLE001 - the connection broke: reopen next time
            self.close()
            return []
        out = []
        for win in children:
            try:
                if win.get_attributes().map_state != X.IsViewable:
                    continue
                g = win.get_geometry()  # a root child's position is relative to the root
            except Exception:  # noqa: BLE001 - the window went away meanwhile
                continue
            if g.width > 1 and g.height > 1:
                out.append((g.x + g.border_width, g.y + g.border_width, g.width, g.height))
        return out

    def titled(self) -> list[tuple[Box, str]]:
        """Viewable top-level windows with their titles (a window manager's frame takes its client's),
        bottom to top; for ``agent doctor``, to name windows that publish no accessibility tree."""
        d = self._display()
        if d is None:
            return []
        try:
            from Xlib import X

            children = d.screen().root.query_tree().children
            net_name, utf8 = d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING")
        except Exception:  # noqa: BLE001
            self.close()
            return []

        def title(win, depth: int = 0) -> str:  # noqa: ANN001
            try:
                prop = win.get_full_property(net_name, utf8)
                if prop is not None and prop.value:
                    v = prop.value
                    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                name = win.get_wm_name()
                if name:
                    return name.decode("latin-1") if isinstance(name, bytes) else str(name)
                if depth < 2:
                    for child in win.query_tree().children:
                        t = title(child, depth + 1)
                        if t:
                            return t
            except Exception:  # noqa: BLE001 - gone meanwhile
                pass
            return ""

        out = []
        for win in children:
            try:
                if win.get_attributes().map_state != X.IsViewable:
                    continue
                g = win.get_geometry()
            except Exception:  # noqa: BLE001
                continue
            if g.width > 1 and g.height > 1:
                out.append(((g.x + g.border_width, g.y + g.border_width, g.width, g.height), title(win)))
        return out

    def close(self) -> None:
        if self._d is not None:
            try:
                self._d.close()
            except Exception:  # noqa: BLE001
                pass
            self._d = None


def iou(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def best_match(box: Box, stack: list[Box]) -> int | None:
    """The index in ``stack`` of the X window that is ``box`` (an accessible frame's extents): the
    one overlapping it most (a window manager's frame is a little larger than its client), topmost
    on ties; None when nothing overlaps."""
    best, best_i = 0.3, None
    for i, w in enumerate(stack):
        s = iou(box, w)
        if s >= best:
            best, best_i = s, i
    return best_i


def covered(stack: list[Box], level: int, x: float, y: float) -> bool:
    """Is point (x, y) of the window at stack index ``level`` under a window higher in the stack?"""
    return any(w[0] <= x < w[0] + w[2] and w[1] <= y < w[1] + w[3] for w in stack[level + 1:])


def shows(box: Box, stack: list[Box], screen: Rect | None) -> bool:
    """Does any of window ``box`` show: on the screen and not wholly under higher windows? Judged
    on a 7x7 grid of points (a sliver thinner than a seventh of the window may be missed)."""
    x, y, w, h = box
    if w <= 0 or h <= 0:
        return False
    if screen is not None:
        x0, y0 = max(x, screen.left), max(y, screen.top)
        x1, y1 = min(x + w, screen.right), min(y + h, screen.bottom)
        if x1 <= x0 or y1 <= y0:
            return False
        x, y, w, h = x0, y0, x1 - x0, y1 - y0
    level = best_match(box, stack) if stack else None
    if level is None:
        return True
    pts = [(x + (i + 0.5) * w / 7, y + (j + 0.5) * h / 7) for i in range(7) for j in range(7)]
    return any(not covered(stack, level, px, py) for px, py in pts)


__all__ += ["covered", "shows"]
