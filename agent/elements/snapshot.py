"""One ``ScreenModel`` per screen state, from whatever sources this desktop has.

``ElementModeler`` is what fill, record, replay, the risky-action gate and the model prompt hold:
``snapshot(frame)`` gives the elements of the screen that ``frame`` shows, built from

* the **accessibility tree** (``agent.elements.a11y``) when a bus is reachable — exact names and
  bounds for Chromium, GTK and Qt windows;
* the **visual parse** (``agent.elements.visual``) of the windows that publish no tree (Tk 8.6, a
  canvas app, a remote desktop viewer) — only those windows, so a browser page is not OCR'd when its
  tree already says everything (a window counts as described by its tree when at least
  ``TREE_MIN`` accessible elements lie in it);

merged by ``agent.elements.merge`` (accessibility wins on names and bounds). The visual source keeps
its own cache of lines it has read, so a snapshot after one field was typed into costs the changed
lines only; an unchanged frame returns the previous model outright.

``latest()`` is the last snapshot with the frame it was built from: the risky-action gate's probe
uses it when the pixels around the target have not changed since (``agent.elements.probe``).
``element_at`` / ``focused`` ask the tree directly when there is one (tens of milliseconds), else
the latest model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from actions.coords import Rect
from agent.elements.merge import merge
from agent.elements.model import Element, ScreenModel
from agent.screen import Frame

#: A window with at least this many accessible elements is described by its tree.
TREE_MIN = 3


class ElementModeler:
    """Builds snapshots from an accessibility source and a visual source (either may be None)."""

    def __init__(self, *, a11y=None, visual=None) -> None:
        self.a11y = a11y
        self.visual = visual
        self._last: tuple[Frame, ScreenModel] | None = None
        self._last_bytes: bytes | None = None

    @classmethod
    def auto(cls, display: str | None = None, *, a11y: bool = True, visual: bool = True) -> "ElementModeler":
        """The sources this desktop offers: the tree when a bus answers, the visual parse always."""
        tree = vis = None
        if a11y:
            from agent.elements.a11y import A11ySource

            src = A11ySource(display)
            tree = src if src.available else None
        if visual:
            from agent.elements.visual import VisualSource

            vis = VisualSource()
        return cls(a11y=tree, visual=vis)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(n for n, s in (("a11y", self.a11y), ("visual", self.visual)) if s is not None)

    # snapshots ---------------------------------------------------------------------------------
    def snapshot(self, frame: Frame) -> ScreenModel:
        """The elements of the screen ``frame`` shows (module docstring)."""
        raw = np.asarray(frame.image).tobytes()
        if self._last is not None and self._last_bytes == raw and self._last[0].region == frame.region:
            return self._last[1]
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        notes: list[str] = []
        tree: list[Element] = []
        covered: list[Rect] = []
        if self.a11y is not None:
            tree = self.a11y.snapshot()
            timings["a11y"] = time.perf_counter() - t0
            notes += list(getattr(self.a11y, "last_notes", []) or [])
            covered = self._described_windows(tree)
        seen: list[Element] = []
        if self.visual is not None:
            t1 = time.perf_counter()
            for area in self._visual_areas(frame, covered):
                try:
                    seen += self.visual.snapshot(frame, area=area)
                except Exception as e:  # noqa: BLE001 - one unreadable window must not hide the others
                    notes.append(f"visual parse failed in {area}: {type(e).__name__}: {e}")
            timings["visual"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        elements = merge(tree, seen, covered=covered)
        timings["merge"] = time.perf_counter() - t2
        timings["total"] = time.perf_counter() - t0
        model = ScreenModel(elements, Rect(frame.left, frame.top, frame.width, frame.height), taken_at=frame.taken_at,
                            sources=self.sources, timings=timings, notes=tuple(notes))
        self._last, self._last_bytes = (frame, model), raw
        return model

    def latest(self) -> tuple[Frame, ScreenModel] | None:
        return self._last

    def _described_windows(self, tree: Sequence[Element]) -> list[Rect]:
        """Boxes of the top-level windows whose accessible elements describe them."""
        try:
            windows = self.a11y.x_windows()
        except Exception:  # noqa: BLE001
            return []
        out = []
        for (x, y, w, h), _title in windows:
            r = Rect(x, y, w, h)
            if sum(1 for e in tree if r.contains(*e.center)) >= TREE_MIN:
                out.append(r)
        return out

    def _visual_areas(self, frame: Frame, covered: Sequence[Rect]) -> list[Rect | None]:
        """Where the visual parse runs: the whole frame when no window has a tree; else each visible
        top-level window that has none (or the whole frame when the windows cannot be listed)."""
        if not covered:
            return [None]
        try:
            windows = self.a11y.x_windows()
        except Exception:  # noqa: BLE001
            return [None]
        screen = Rect(frame.left, frame.top, frame.width, frame.height)
        out: list[Rect | None] = []
        for (x, y, w, h), _title in windows:
            r = Rect(x, y, w, h)
            if any(abs(r.left - c.left) < 2 and abs(r.top - c.top) < 2 and abs(r.width - c.width) < 2
                   and abs(r.height - c.height) < 2 for c in covered):
                continue
            clipped = _clip(r, screen)
            if clipped is not None and clipped.width >= 16 and clipped.height >= 16:
                out.append(clipped)
        return out

    # fast point queries ------------------------------------------------------------------------
    def element_at(self, x: float, y: float) -> Element | None:
        if self.a11y is not None:
            e = self.a11y.element_at(x, y)
            if e is not None:
                return e
        return self._last[1].at(x, y) if self._last is not None else None

    def focused(self) -> Element | None:
        """The element with keyboard focus according to the tree (None without one: pixels cannot
        say reliably which field has focus)."""
        return self.a11y.focused() if self.a11y is not None else None


def _clip(r: Rect, to: Rect) -> Rect | None:
    left, top = max(r.left, to.left), max(r.top, to.top)
    right, bottom = min(r.right, to.right), min(r.bottom, to.bottom)
    if right <= left or bottom <= top:
        return None
    return Rect(left, top, right - left, bottom - top)
