"""Find a fill step's target: the screen element model first, pixels where it has nothing.

Why the element model first: a script names what a person reads — ``type: {into: "Email"}``, ``click:
{text: "Select", row: "12:40"}``, ``choose: {group: "Sex", option: "Male"}`` — and the element model
(``agent.elements``) already knows, per screen state, which entry a label names wherever the label
sits, which row a button is in and which radio belongs to which group, from the accessibility tree
(Chromium, GTK) or the visual parse (Tk). Grounding a step is then a lookup (``ElementQuery`` +
``locate``), and the element found can be *read back* after acting: its value, its checked state.

The answer is one element or an error naming the candidates (``ElementMissing`` lists the closest
names on screen, ``ElementAmbiguous`` every equal match and how to choose) — never a silent pick.

The other grounders stay where they are the point: an ``image:`` target is template matching, a
bare ``description:`` goes to the VLM, and when the element model has nothing matching a plain text
target for a second (at once when only a field's label is there: the model missed the field), the OCR
text grounder gets a look, and another at the step's deadline (``method`` in the trajectory then starts
with ``fallback:``, so a person can see that pixels, not elements, were used).

``Finder.spent`` adds up the seconds spent building snapshots and querying them (the benchmark's
per-action grounding time).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from actions.coords import ImageMap, Rect
from agent.elements.ground import ElementAmbiguous, ElementMissing, ElementQuery, locate, name_score
from agent.elements.model import TEXT_INPUTS, Element, ScreenModel, distance, iou
from agent.fill.script import Target
from agent.steps import StepRunner
from model.grounding import ElementNotFound, Grounder, Match, Query, Shot

#: Roles a step kind looks for when its target names none (tried in order).
KIND_ROLES: dict[str, tuple[str | None, ...]] = {
    "click": (None,), "any": (None,), "field": ("field",), "check": ("checkbox", "toggle"), "radio": ("radio",),
}
#: Roles that hold others; named like their heading, they answer a bare name last.
CONTAINERS = frozenset({"group", "window", "list", "table", "menu", "dialog", "row"})
#: Seconds without an element match before the OCR text grounder gets its first look.
OCR_AFTER_S = 1.0
#: What the OCR text grounder is asked for per step kind, when it is the fallback.
OCR_ROLE = {"click": "any", "any": "any", "field": "field", "check": "text", "radio": "text"}


class StepFailed(Exception):
    """A step could not be done; the message says why, for the results file and the person."""


class TargetError(StepFailed):
    """The target was not found; the message names the candidates and the saved screenshot."""


@dataclass(frozen=True)
class Hit:
    """Where a step acts: a box in screen coordinates, how it was found, and the element when the
    element model found it (None for OCR, template and VLM matches)."""

    box: Rect
    method: str
    score: float = 1.0
    text: str | None = None
    element: Element | None = None

    @property
    def center(self) -> tuple[float, float]:
        return self.box.left + self.box.width / 2, self.box.top + self.box.height / 2

    @classmethod
    def of(cls, e: Element) -> "Hit":
        return cls(e.bounds, f"element:{e.source}", 1.0, e.name or e.value, e)

    @classmethod
    def of_match(cls, m: Match, fallback: bool = False) -> "Hit":
        return cls(m.box, ("fallback:" if fallback else "") + m.method, m.score, m.text)

    def to_json(self) -> dict:
        b = self.box
        out = {"box": [round(b.left, 1), round(b.top, 1), round(b.width, 1), round(b.height, 1)],
               "score": round(self.score, 3), "method": self.method, "text": self.text}
        e = self.element
        if e is not None:
            out["element"] = {"id": e.id, "role": e.role, "name": e.name,
                              **{k: v for k, v in (("row", e.row), ("group", e.group)) if v}}
        return out


def element_query(t: Target, role: str | None) -> ElementQuery:
    """The element query a (substituted) target asks: its own role, else the step kind's."""
    role = t.role or role
    if not (role or t.text):
        role = "row"  # ``click: {row: "12:40"}``: the row itself
    return ElementQuery(role=role, name=t.text, row=t.row, group=t.group, near=t.near, nth=t.nth, window=t.window)


def pick(model: Iterable[Element], t: Target, kind: str) -> Element:
    """The one element ``t`` names on this snapshot, for a step of ``kind`` (see ``KIND_ROLES``).
    A name with no role means a control first (a click: the entry named "Email", not its label),
    then a text or heading, then a container named like its heading (a form's group)."""
    els = list(model)
    if t.region is not None:
        r = Rect(*t.region)
        els = [e for e in els if r.contains(*e.center)]
    first: ElementMissing | None = None
    for role in ((t.role,) if t.role else KIND_ROLES[kind]):
        q = element_query(t, role)
        pools = [els]
        if q.role is None:  # what a person means by a bare name: a control, else a text, else a container
            pools = [[e for e in els if e.role not in CONTAINERS], els]
            if kind == "click":
                pools.insert(0, [e for e in els if e.interactive])
        for pool in pools:
            try:
                return _near(locate(pool, replace(q, near=None)), q, els) if q.near else locate(pool, q)
            except ElementAmbiguous as e:
                if not q.near:
                    raise
                return _near(e.candidates, q, els)
            except ElementMissing as e:
                if pool is els and first is None:
                    first = e
    assert first is not None
    raise first


def _near(found: Element | list[Element], q: ElementQuery, els: list[Element]) -> Element:
    """The candidate nearest the ``near`` anchor, which may be any element on screen (a heading, a
    label) whatever the pool the candidates came from; one candidate needs no anchor."""
    if isinstance(found, Element):
        return found
    anchors = [e for e in els if name_score(q.near or "", e.name) >= 0.8 and e not in found]
    if not anchors:
        raise ElementMissing(ElementQuery(name=q.near), detail=f" (the 'near' anchor of {q.describe()})")
    ax, ay = max(anchors, key=lambda e: name_score(q.near or "", e.name)).center
    ranked = sorted(found, key=lambda e: distance(e.bounds, ax, ay))
    if distance(ranked[1].bounds, ax, ay) - distance(ranked[0].bounds, ax, ay) < 5:
        raise ElementAmbiguous(q, ranked)
    return ranked[0]


def same_element(model: Iterable[Element], e: Element) -> Element | None:
    """``e`` in a later snapshot: the same id, else the same role over the same place, else the same
    name over the same place (pixels can change a control's look — a selected value highlighted)."""
    els = list(model)
    hit = next((x for x in els if x.id == e.id), None)
    if hit is not None:
        return hit
    for same in (lambda x: x.role == e.role, lambda x: x.interactive and bool(e.name) and x.name == e.name):
        best = max((x for x in els if same(x)), key=lambda x: iou(x.bounds, e.bounds), default=None)
        if best is not None and iou(best.bounds, e.bounds) >= 0.5:
            return best
    return None


class Finder:
    """Targets on the current screen for one fill run (see the module docstring)."""

    def __init__(self, runner: StepRunner, grounder: Grounder, *, base: Path | None,
                 save_shot: Callable[[Shot, str], str], elements: bool = True) -> None:
        self.runner, self.grounder, self.base = runner, grounder, base
        self.save_shot = save_shot
        #: The element model that finds targets (None: every target goes to ``grounder``).
        self.modeler = runner.modeler if elements else None
        self._templates: dict[str, Image.Image] = {}
        self.spent = 0.0  # seconds in element snapshots and queries (cumulative)

    # screens -----------------------------------------------------------------------------------
    def shot(self, fresh: bool = False) -> Shot:
        obs = self.runner.observe(fresh=fresh)
        if obs is None:
            raise TargetError("no screen to look at (a display is needed to find elements)")
        f = obs.frame
        return Shot(f.image, ImageMap(obs.map.area, f.width, f.height))

    def model(self, fresh: bool = False) -> ScreenModel | None:
        """The element model of the current screen (None without an element modeler)."""
        if self.modeler is None:
            return None
        obs = self.runner.observe(fresh=fresh)  # the settle wait is not grounding
        if obs is None:
            raise TargetError("no screen to look at (a display is needed to find elements)")
        t = time.perf_counter()
        m = self.modeler.snapshot(obs.frame)
        self.spent += time.perf_counter() - t
        return m

    def _located(self, model: ScreenModel, t: Target, kind: str) -> Element:
        t0 = time.perf_counter()
        try:
            return pick(model, t, kind)
        finally:
            self.spent += time.perf_counter() - t0

    # finding -----------------------------------------------------------------------------------
    def uses_elements(self, t: Target) -> bool:
        """Image targets are template matching, bare descriptions the VLM; the rest are elements."""
        return self.modeler is not None and not t.image and not (
            t.description and not (t.text or t.row or t.role))

    def find(self, t: Target, kind: str, timeout: float) -> Hit:
        """``t`` on screen, waiting up to ``timeout`` for it to appear; ``TargetError`` (naming the
        candidates and the saved screenshot) or ``ElementAmbiguous`` when it cannot be told."""
        if not self.uses_elements(t):
            return self.grounded(self.grounder_query(t, kind), timeout)
        start = time.monotonic()
        deadline, fresh, tried = start + timeout, False, not self.ocr_can_try(t)
        while True:
            model = self.model(fresh)
            try:
                return Hit.of(self._located(model, t, kind))
            except ElementMissing as e:
                missing = e
            now, looked = time.monotonic(), False
            # pixels get a look once the model has not had it for a second (or shows only its label: a
            # field it did not recognise), and again at the deadline
            if not tried and (now - start >= min(OCR_AFTER_S, timeout) or self._label_only(model, t, kind)):
                tried = looked = True
                hit = self.ocr(t, kind)
                if hit is not None:
                    return hit
            if now >= deadline:
                break
            time.sleep(0.05)
            fresh = True
        hit = self.ocr(t, kind) if self.ocr_can_try(t) and not looked else None
        if hit is not None:
            return hit
        raise TargetError(f"{missing}; screenshot {self.save_shot(self.shot(), 'not-found')}") from None

    def ocr(self, t: Target, kind: str) -> Hit | None:
        """``t`` by the pixel grounder on the current screen, marked as the fallback; None: not there."""
        shot = self.shot()
        t0 = time.perf_counter()
        try:
            return Hit.of_match(self.grounder.locate(shot, self.grounder_query(t, kind)), fallback=True)
        except ElementNotFound:
            return None
        finally:
            self.spent += time.perf_counter() - t0

    @staticmethod
    def _label_only(model: ScreenModel, t: Target, kind: str) -> bool:
        """A field's label is on screen but no field goes by it: the model missed the field."""
        return kind == "field" and bool(t.text) and any(
            not e.interactive and name_score(t.text, e.name) >= 0.9 for e in model)

    def find_now(self, t: Target, kind: str) -> Hit | None:
        """``t`` on the current screen without waiting, or None; ambiguity is still an error."""
        if not self.uses_elements(t):
            try:
                return Hit.of_match(self.grounder.locate(self.shot(), self.grounder_query(t, kind)))
            except ElementNotFound:
                return None
        try:
            return Hit.of(self._located(self.model(), t, kind))
        except ElementMissing:
            pass
        return self.ocr(t, kind) if self.ocr_can_try(t) else None

    def element(self, q: ElementQuery, timeout: float) -> Element:
        """One element for an element query (no pixel fallback), waiting up to ``timeout``."""
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            model = self.model(fresh)
            t0 = time.perf_counter()
            try:
                return locate(model, q)
            except ElementMissing as e:
                missing = e
            finally:
                self.spent += time.perf_counter() - t0
            if time.monotonic() >= deadline:
                raise TargetError(f"{missing}; screenshot {self.save_shot(self.shot(), 'not-found')}") from None
            time.sleep(0.05)
            fresh = True

    def again(self, e: Element, ok: Callable[[Element], bool] | None = None, timeout: float = 3.0) -> Element | None:
        """``e`` read back after acting (a fresh snapshot of the settled screen), waiting up to
        ``timeout`` for ``ok`` to hold; returns what was read last (None: it is gone)."""
        deadline, fresh, cur = time.monotonic() + timeout, False, None
        while True:
            cur = same_element(self.model(fresh), e)
            if cur is not None and (ok is None or ok(cur)):
                return cur
            if time.monotonic() >= deadline:
                return cur
            time.sleep(0.05)
            fresh = True

    def focused(self) -> Element | None:
        """The text field with keyboard focus: the tree's answer, else the snapshot's (a caret or a
        focus ring); None when neither knows."""
        modeler = self.modeler
        if modeler is None:
            return None
        e = None
        try:
            e = modeler.focused()
        except Exception:  # noqa: BLE001 - a bus that stopped answering: ask the pixels
            e = None
        if e is None:
            e = self.model().focused()
        return e if e is not None and e.role in TEXT_INPUTS else None

    # the pixel grounders -------------------------------------------------------------------------
    def ocr_can_try(self, t: Target) -> bool:
        """OCR can look for a plain text (with near / nth / region); rows, groups, roles and windows
        are element notions it cannot check."""
        return bool(t.text) and not (t.row or t.group or t.role or t.window)

    def template(self, name: str) -> Image.Image:
        if name not in self._templates:
            path = (self.base or Path(".")) / name
            try:
                self._templates[name] = Image.open(path).convert("RGB")
            except OSError as e:
                raise TargetError(f"cannot read the image {name!r} ({path}): {e}") from None
        return self._templates[name]

    def grounder_query(self, t: Target, kind: str, min_score: float = 0.8) -> Query:
        return Query(text=t.text, template=self.template(t.image) if t.image else None,
                     role=OCR_ROLE[kind] if t.text else "any", nth=t.nth, near=t.near,
                     region=Rect(*t.region) if t.region else None, description=t.description, min_score=min_score)

    def grounded(self, q: Query, timeout: float) -> Hit:
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            shot = self.shot(fresh)
            t0 = time.perf_counter()
            try:
                return Hit.of_match(self.grounder.locate(shot, q))
            except ElementNotFound as e:
                if time.monotonic() >= deadline:
                    raise TargetError(str(e.with_screenshot(self.save_shot(shot, "not-found")))) from None
            finally:
                self.spent += time.perf_counter() - t0
            time.sleep(0.05)
            fresh = True


__all__ = ["ElementAmbiguous", "Finder", "Hit", "StepFailed", "TargetError", "element_query", "pick", "same_element"]
