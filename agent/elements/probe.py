"""The risky-action gate's eyes: what the live screen shows where an action is about to land.

``actions.gate`` decides; this module reads. For a point it returns the text of **the element under
the pointer** and **the text at the pointer**, read from the screen at the moment of acting:

1. when an element model snapshot is available (``snapshot()`` gives the frame it was built from and
   the ``ScreenModel``) and the pixels around the point are still the ones it was built from, the
   element's own name and value (an accessible name from the tree, or the visual parse's label);
2. otherwise a visual read around the point: the smallest closed rectangle that holds the point (a
   button's border, a field's frame, a flat button's background) found with OpenCV, and the OCR text
   inside it; on bare background (a borderless link, a label) the OCR line the point sits on. Text
   merely *near* a control (the Pay button under the card field) is not evidence: the gate must not
   ask about every click on a payment page. Only the control (or a thin strip) is read, so a check
   costs tens of milliseconds.

For keyboard actions (Enter, Space, typing) the focused element: ``focused()`` when an accessibility
source can say, else the element under the place the pointer last acted (where a person clicked to
focus a field).

A region that cannot be captured or read raises ``actions.gate.ProbeError``, so the gate fails
closed. Reads are cached by the region's pixels, so a repeated check on an unchanged screen is free.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from actions.gate import Evidence, ProbeError
from agent.elements.model import Element, ScreenModel
from agent.screen import Frame, Region, Screen
from agent.screen.shapes import enclosing_box

#: The region read around a point, in screen pixels (wide enough for a button caption or a field).
REGION = (480, 160)
#: Padding around an OCR line within which the point counts as "on" it.
ON_TEXT_PAD = 6
#: A control at most this tall (logical px) holds one line of text: read it without text detection.
ONE_LINE = 56
#: The strip read around a point that is on no control (a link, a label), in capture pixels.
STRIP = (360, 40)

Snapshot = Callable[[], "tuple[Frame, ScreenModel] | None"]


def element_evidence(e: Element, source: str) -> list[Evidence]:
    """The texts of an element as gate evidence: its label and, for a control, what it holds."""
    out = [Evidence(f"{source} ({e.role})", e.name)] if e.name else []
    if e.value and e.role not in ("entry", "textarea") and e.value != e.name:
        out.append(Evidence(f"{source} ({e.role} value)", e.value))
    if e.description:
        out.append(Evidence(f"{source} ({e.role} description)", e.description))
    return out


class LiveScreenProbe:
    """``actions.gate.ScreenProbe`` over the live screen (module docstring).

    ``scale`` is capture pixels per logical pixel (HiDPI). ``snapshot`` returns the latest element
    model and the frame it was built from, or None. ``focused`` returns the focused element from an
    accessibility source, or None. The probe opens its own ``Screen`` on first use, in the thread that
    uses it (the executor's).
    """

    def __init__(self, *, scale: float = 1.0, snapshot: Snapshot | None = None,
                 focused: Callable[[], Element | None] | None = None, engine=None,
                 screen: Screen | None = None) -> None:
        self.scale = scale
        self.snapshot = snapshot
        self.focused = focused
        self._engine = engine
        self._screen = screen
        self._cache: OrderedDict[str, list[Evidence]] = OrderedDict()

    # helpers -----------------------------------------------------------------------------------
    def _grab(self, x: float, y: float) -> Frame:
        if self._screen is None:
            self._screen = Screen()
        k = self.scale
        w, h = REGION
        try:
            return self._screen.capture(region=Region(int(x * k - w / 2), int(y * k - h / 2), w, h))
        except Exception as e:  # noqa: BLE001 - no display, a region off the desktop
            raise ProbeError(f"cannot capture the screen around ({x:.0f}, {y:.0f}): {e}") from None

    def _reader(self):
        if self._engine is None:
            from model.ocr import get_engine

            try:
                self._engine = get_engine("rapidocr")
            except Exception as e:  # noqa: BLE001
                raise ProbeError(f"no OCR engine to read the screen: {e}") from None
        return self._engine

    def _ocr(self, rgb: np.ndarray):
        engine = self._reader()
        try:
            return engine.read(rgb)
        except Exception as e:  # noqa: BLE001
            raise ProbeError(f"OCR failed: {e}") from None

    def _line(self, rgb: np.ndarray) -> str | None:
        from model.ocr import read_line

        engine = self._reader()
        try:
            return read_line(engine, rgb)
        except Exception as e:  # noqa: BLE001
            raise ProbeError(f"OCR failed: {e}") from None

    def _from_model(self, frame: Frame, x: float, y: float) -> list[Evidence] | None:
        """The element model's element at the point, if its pixels there are still current."""
        snap = self.snapshot() if self.snapshot else None
        if snap is None:
            return None
        sframe, model = snap
        if sframe.size == (0, 0):
            return None
        box = (frame.left - sframe.left, frame.top - sframe.top)
        if box[0] < 0 or box[1] < 0 or box[0] + frame.width > sframe.width or box[1] + frame.height > sframe.height:
            return None
        then = np.asarray(sframe.image.crop((box[0], box[1], box[0] + frame.width, box[1] + frame.height)))
        if not np.array_equal(then, np.asarray(frame.image)):
            return None  # the screen changed since the snapshot: read it again
        e = model.at(x, y)
        return element_evidence(e, "the element under the pointer") if e is not None else []

    # ScreenProbe -------------------------------------------------------------------------------
    def under(self, x: float, y: float) -> list[Evidence]:
        frame = self._grab(x, y)
        known = self._from_model(frame, x, y)
        if known is not None:
            return known
        rgb = np.asarray(frame.image)
        digest = hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest() + f"@{frame.left},{frame.top},{x:.0f},{y:.0f}"
        if digest in self._cache:
            self._cache.move_to_end(digest)
            return list(self._cache[digest])
        px, py = int(x * self.scale) - frame.left, int(y * self.scale) - frame.top
        import cv2

        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        box = enclosing_box(grey, px, py)
        out: list[Evidence] = []
        if box is not None:  # read the control itself: a few hundred pixels, not the whole region
            bx, by, bw, bh = box
            crop = np.ascontiguousarray(rgb[by:by + bh, bx:bx + bw])
            if bh <= ONE_LINE * self.scale:
                text = self._line(crop)
            else:
                text = " ".join(t.text for t in sorted(self._ocr(crop), key=lambda t: (t.y // 8, t.x)))
            if text:
                out.append(Evidence("the element under the pointer", text))
        else:  # bare background or a borderless link: the line of text the point is on
            x0, y0 = max(0, px - STRIP[0] // 2), max(0, py - STRIP[1] // 2)
            strip = rgb[y0:y0 + STRIP[1], x0:x0 + STRIP[0]]
            p = ON_TEXT_PAD
            for t in self._ocr(np.ascontiguousarray(strip)):
                tx, ty = t.x + x0, t.y + y0
                if tx - p <= px <= tx + t.w + p and ty - p <= py <= ty + t.h + p:
                    out.append(Evidence("the text at the pointer", t.text))
        self._cache[digest] = out
        while len(self._cache) > 32:
            self._cache.popitem(last=False)
        return list(out)

    def focus(self, hint: tuple[float, float] | None) -> list[Evidence]:
        if self.focused is not None:
            try:
                e = self.focused()
            except Exception:  # noqa: BLE001 - the tree is a hint; the visual read below still runs
                e = None
            if e is not None:
                return element_evidence(e, "the focused element")
        if hint is None:
            return []
        return [Evidence(ev.source.replace("the element under the pointer", "the focused element (last clicked)"),
                         ev.text) for ev in self.under(*hint)]
