"""The risky-action gate's eyes: what the live screen shows where an action is about to land.

``actions.gate`` decides; this module reads. For a point it returns, read at the moment of acting:

1. **the element under the pointer** from the element model: the accessibility tree's element at
   the point (``element_at``: its accessible name and value), or the latest snapshot's element when
   the pixels around the point are still the ones it was built from (``snapshot``);
2. **what is drawn there**, always: the OCR text inside that element's bounds, or — with no element
   known — inside the smallest closed rectangle that holds the point (a button's border, a field's
   frame, a flat button's background, found with OpenCV); on bare background (a borderless link, a
   label) the OCR line the point sits on. An app's label for a control is not what a person sees (an
   ``aria-label="Close"`` on a Pay button), so both count.

Text merely *near* a control (the Pay button under the card field) is not evidence: the gate must not
ask about every click on a payment page. Only the control (or a thin strip) is read, so a check costs
tens of milliseconds.

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
                 focused: Callable[[], Element | None] | None = None,
                 element_at: Callable[[float, float], Element | None] | None = None, engine=None,
                 screen: Screen | None = None) -> None:
        self.scale = scale
        self.snapshot = snapshot
        self.focused = focused
        self.element_at = element_at
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

    def _from_model(self, frame: Frame, x: float, y: float) -> Element | None:
        """The latest snapshot's element at the point, if its pixels there are still current."""
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
        return model.at(x, y)

    # ScreenProbe -------------------------------------------------------------------------------
    def under(self, x: float, y: float) -> list[Evidence]:
        frame = self._grab(x, y)
        px, py = int(x * self.scale) - frame.left, int(y * self.scale) - frame.top
        element = self._known_element(frame, x, y)
        out = element_evidence(element, "the element under the pointer") if element is not None else []
        box = self._box_in(frame, element) if element is not None else None
        rgb = np.asarray(frame.image)
        digest = hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest() + f"@{px},{py},{box}"
        if digest not in self._cache:
            self._cache[digest] = self._read(rgb, px, py, box)
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        self._cache.move_to_end(digest)
        # the drawn text too, whatever the tree says: an app's label for a control is not what a
        # person sees (an aria-label "Close" on a Pay button)
        return out + [e for e in self._cache[digest] if not any(e.text == o.text for o in out)]

    def _known_element(self, frame: Frame, x: float, y: float) -> Element | None:
        """The element at the point from the element model: the accessibility tree's answer now, else
        the latest snapshot when its pixels around the point are still current."""
        if self.element_at is not None:
            try:
                e = self.element_at(x, y)
            except Exception:  # noqa: BLE001 - the tree is a hint; pixels are read anyway
                e = None
            if e is not None and e.source in ("a11y", "both"):
                return e
        return self._from_model(frame, x, y)

    def _box_in(self, frame: Frame, e: Element) -> tuple[int, int, int, int] | None:
        """The element's bounds inside the grabbed region (capture pixels), when they fit in it."""
        k, b = self.scale, e.bounds
        bx, by = int(b.left * k) - frame.left, int(b.top * k) - frame.top
        bw, bh = int(b.width * k), int(b.height * k)
        if bx < 0 or by < 0 or bx + bw > frame.width or by + bh > frame.height or bw < 8 or bh < 8:
            return None
        return bx, by, bw, bh

    def _read(self, rgb: np.ndarray, px: int, py: int, box: tuple[int, int, int, int] | None) -> list[Evidence]:
        """What the pixels say: the text inside the control under the point, or the line it is on."""
        import cv2

        if box is None:
            box = enclosing_box(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY), px, py)
        if box is not None:  # read the control itself: a few hundred pixels, not the whole region
            bx, by, bw, bh = box
            crop = np.ascontiguousarray(rgb[by:by + bh, bx:bx + bw])
            if bh <= ONE_LINE * self.scale:
                text = self._line(crop)
            else:
                text = " ".join(t.text for t in sorted(self._ocr(crop), key=lambda t: (t.y // 8, t.x)))
            return [Evidence("the element under the pointer (as drawn)", text)] if text else []
        out = []  # bare background or a borderless link: the line of text the point is on
        x0, y0 = max(0, px - STRIP[0] // 2), max(0, py - STRIP[1] // 2)
        strip = rgb[y0:y0 + STRIP[1], x0:x0 + STRIP[0]]
        p = ON_TEXT_PAD
        for t in self._ocr(np.ascontiguousarray(strip)):
            tx, ty = t.x + x0, t.y + y0
            if tx - p <= px <= tx + t.w + p and ty - p <= py <= ty + t.h + p:
                out.append(Evidence("the text at the pointer", t.text))
        return out

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
