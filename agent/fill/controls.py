"""What the element-shaped fill steps do — type, select, choose, check — and how each reads back.

Why read back: a macro recorder clicks and hopes; a form filled wrongly is worse than a form not
filled. So each step ends by reading the element it acted on from a fresh snapshot of the settled
screen: the entry's or spinbox's text, the combobox's value, the tick box's or radio's state. A
mismatch fails the step naming what was read ("typed 'ada@example.org' into entry 'Email' but it
reads 'ada@example.or'"), and the row's ``on_error`` policy decides what happens next.

How values are compared: the accessibility tree gives the exact text, so a tree element must match
exactly (whitespace aside); the visual parse reads pixels with OCR, so there case, a character in
ten, the usual confusions (0/o, 1/l/I), stray marks (a caret's or border's stub read as "'" or "|")
and a long value scrolled out of a narrow field are forgiven.

Drop-down lists: a read-only combobox is opened with a click and the option clicked in the list the
element model sees; a long list is scrolled with the mouse wheel over it until the option shows (down
to the end, then up); a list the model cannot see (a browser's native popup) gets type-ahead and
Enter. A combobox that takes text (an autocomplete) is typed into and the matching suggestion
clicked. Targets the element model does not have fall back to the pixel ways in ``agent.fill.pixels``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from actions import secrets
from actions.coords import Rect
from actions.space import Hotkey, KeyPress, Scroll, TypeText
from agent.elements.ground import ElementAmbiguous, ElementMissing, ElementQuery, contains_words, locate
from agent.elements.model import TEXT_INPUTS, Element, distance
from agent.fill import pixels
from agent.fill.script import CheckStep, ChooseStep, SelectStep, Target, TypeStep, as_bool
from agent.fill.targets import Hit, StepFailed, same_element

if TYPE_CHECKING:
    from agent.fill.runner import FillRunner

#: Roles of the entries of an open list (a drop-down's options, an autocomplete's suggestions).
OPTION_ROLES = frozenset({"option", "listitem", "menuitem"})
#: Wheel clicks per scroll of a list, and how many scrolls one list may take.
SCROLL_CLICKS, MAX_SCROLLS = 1, 80
_STRAY = set("'`|!.,:;_")
_CONFUSED = str.maketrans({"o": "0", "l": "1", "i": "1", "|": "1"})


def _flat(s: str | None) -> str:
    return " ".join((s or "").split())


def same_text(want: str, got: str | None, *, exact: bool, contains: bool = False) -> bool:
    """Does a field that reads ``got`` hold ``want``? (``contains``: somewhere in it.) ``exact`` for
    the accessibility tree; OCR'd values are forgiven small misreads (module docstring)."""
    w, g = _flat(want), _flat(got)
    if w == g or (contains and w and w in g):
        return True
    if exact or not w or not g:
        return False
    stray = {ch for ch in g if ch in _STRAY and ch not in w}  # a border or caret stub read as a mark
    g = "".join(ch for ch in g if ch not in stray)
    wc, gc = w.replace(" ", "").lower().translate(_CONFUSED), g.replace(" ", "").lower().translate(_CONFUSED)
    if wc == gc or (contains and wc in gc):
        return True
    if contains:
        return len(wc) >= 4 and fuzz.partial_ratio(wc, gc) >= 90
    if len(wc) >= 5 and fuzz.ratio(wc, gc) >= 90:
        return True
    # a long value in a narrow field shows only part of it (the end, after typing)
    return len(gc) >= 8 and len(gc) >= 0.5 * len(wc) and fuzz.partial_ratio(gc, wc) >= 95


def exact(e: Element) -> bool:
    return e.source != "visual"


class Controls:
    """The element-shaped steps of one fill run (``FillRunner`` acts and finds for them)."""

    def __init__(self, fill: "FillRunner") -> None:
        self.fill = fill

    @property
    def finder(self):
        return self.fill.finder

    # type ----------------------------------------------------------------------------------------
    def type_into(self, v: TypeStep, desc: str, timeout: float) -> None:
        """Click the field (``into``) or keep the keyboard focus, empty it when it shows a value (or as
        ``clear`` says), type, read the value back, then Enter if asked."""
        text = v.text
        if v.into is not None:
            hit = self.finder.find(v.into, "field", timeout)
            self.fill.click(hit, desc)
            field, fields = hit.element, None
        else:  # the focused field: the tree knows it; pixels guess (a caret, a focus ring)
            field = self.finder.focused()
            model = self.finder.model()
            fields = [e for e in model if e.role in TEXT_INPUTS] if model is not None else None
        had = (field.value or "") if field is not None else ""
        clear = v.clear if v.clear is not None else bool(had.strip())
        if clear:
            self.clear(field, desc)
        self.fill.act(TypeText(text), desc)
        if not secrets.has_secret(text):
            if fields is not None and (field is None or not exact(field)):
                self._typed_somewhere(fields, text, contains=bool(had.strip()) and not clear, timeout=timeout)
            elif field is not None:
                self.read_back(field, text, contains=bool(had.strip()) and not clear, timeout=timeout)
        if v.enter:
            self.fill.act(KeyPress("enter"), desc)

    def _typed_somewhere(self, before: list[Element], want: str, *, contains: bool, timeout: float) -> None:
        """After typing blind (no target, focus known only from pixels): the field whose value changed
        must hold ``want``; the field that changed is the one that had the focus."""
        def ok(e: Element) -> bool:
            return same_text(want, e.value, exact=exact(e), contains=contains)

        deadline, fresh = time.monotonic() + timeout, False
        while True:
            now = [e for e in self.finder.model(fresh) if e.role in TEXT_INPUTS]
            changed = []
            for e in now:
                old = same_element(before, e)
                if old is None or _flat(old.value) != _flat(e.value):
                    changed.append(e)
            if any(ok(e) for e in changed):
                return
            if time.monotonic() >= deadline:
                if not changed:
                    raise StepFailed(f"typed {want!r} into the focused field but no field on screen shows it")
                raise StepFailed(f"typed {want!r} into the focused field but "
                                 + "; ".join(f"{e.label()} reads {e.value or ''!r}" for e in changed[:3]))
            time.sleep(0.05)
            fresh = True

    def clear(self, field: Element | None, desc: str) -> None:
        """Select the field's whole text and delete it (a text area: from its end to its start)."""
        desc = f"{desc}: empty the field first"
        if field is not None and (field.role == "textarea" or field.has("multiline")):
            self.fill.act(Hotkey(("ctrl", "end")), desc)
            self.fill.act(Hotkey(("ctrl", "shift", "home")), desc)
        else:
            self.fill.act(KeyPress("end"), desc)
            self.fill.act(Hotkey(("shift", "home")), desc)
        self.fill.act(KeyPress("backspace"), desc)

    def read_back(self, field: Element, want: str, *, contains: bool = False, timeout: float = 3.0) -> Element:
        """``field`` from a fresh snapshot once it holds ``want`` (waiting up to ``timeout`` on a
        slow app); ``StepFailed`` naming what it reads otherwise."""
        ok = (lambda e: same_text(want, e.value, exact=exact(e), contains=contains))
        cur = self.finder.again(field, ok, timeout)
        if cur is None:
            raise StepFailed(f"{field.label()} is no longer on screen to read back")
        if not ok(cur):
            raise StepFailed(f"{want!r} should be in {field.label()} but it reads {cur.value or ''!r}")
        return cur

    # select --------------------------------------------------------------------------------------
    def select(self, v: SelectStep, desc: str, timeout: float) -> None:
        option = v.option
        hit = self.finder.find(v.field, "field", timeout)
        e = hit.element
        if e is None:
            return pixels.select(self.fill, hit, v, desc, timeout)
        if e.value and same_text(option, e.value, exact=exact(e)):
            return  # already chosen
        takes_text = e.role in ("entry", "textarea", "spinbox") or (e.role == "combobox" and e.has("editable"))
        self.fill.click(hit, desc)
        if takes_text:
            if e.value:
                self.clear(e, desc)
            self.fill.act(TypeText(option), desc)
            # an autocomplete (the tree says so) shows suggestions a moment later: wait for them
            self._suggested(e, option, desc, timeout if e.role == "combobox" and exact(e) else 0.0)
        else:
            if self._open_list(e, timeout):
                self._from_list(e, option, desc)
            else:  # the list is not in the model (a browser's native popup): type-ahead
                self.fill.act(TypeText(option), desc)
                self.fill.act(KeyPress("enter"), desc)
        cur = self.finder.again(e, lambda x: same_text(option, x.value, exact=exact(x)), timeout)
        if cur is None or not same_text(option, cur.value, exact=exact(cur)):
            read = "nothing (it is gone)" if cur is None else repr(cur.value or "")
            raise StepFailed(f"chose {option!r} but {e.label()} reads {read}")

    def _options(self, model, field: Element) -> list[Element]:
        """The entries of the open list: those that belong to ``field`` when any say so, else all."""
        opts = [o for o in model if o.role in OPTION_ROLES]
        mine = [o for o in opts if o.group and field.name and contains_words(o.group, field.name)]
        return mine or opts

    def _open_list(self, field: Element, timeout: float) -> bool:
        """After the click on a drop-down: True once its list is in the model; False when the tree
        says it is expanded but shows no list (a native popup) or nothing appeared in time."""
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            model = self.finder.model(fresh)
            if self._options(model, field):
                return True
            cur = same_element(model, field)
            if cur is not None and cur.has("expanded") and exact(cur):
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
            fresh = True

    def _option(self, opts: list[Element], option: str, field: Element) -> Element | None:
        """``option`` among the list's entries (None: not shown); the same name twice is told apart
        by the distance to the field, else it is an error naming both."""
        try:
            return locate(opts, ElementQuery(name=option))
        except ElementMissing:
            return None
        except ElementAmbiguous as e:
            near = sorted(e.candidates, key=lambda c: distance(c.bounds, *field.center))
            if distance(near[1].bounds, *field.center) - distance(near[0].bounds, *field.center) < 5:
                raise
            return near[0]

    def _suggested(self, field: Element, option: str, desc: str, timeout: float) -> None:
        """After typing into a field that may suggest (an autocomplete): click the suggestion named
        ``option`` once it shows, waiting up to ``timeout``; no list at all is fine (the field took
        the text), a list without it is an error naming what it offered."""
        deadline, fresh = time.monotonic() + timeout, False
        while True:
            opts = self._options(self.finder.model(fresh), field)
            o = self._option(opts, option, field) if opts else None
            if o is not None:
                self.fill.click(Hit.of(o), desc)
                return
            if time.monotonic() >= deadline:
                if opts:
                    self.fill.act(KeyPress("escape"), desc)
                    raise StepFailed(f"{option!r} is not among the suggestions of {field.label()} "
                                     f"({', '.join(repr(x.name) for x in opts[:8])})")
                return
            time.sleep(0.05)
            fresh = True

    def _from_list(self, field: Element, option: str, desc: str) -> None:
        """Click ``option`` in the open list, scrolling it with the wheel over the list while the
        option is not shown: down until the list stops moving, then up."""
        opts, direction, last, seen = self._options(self.finder.model(), field), -1, None, []
        for _ in range(MAX_SCROLLS):
            o = self._option(opts, option, field)
            if o is not None:
                self.fill.click(Hit.of(o), desc)
                return
            names = tuple(x.name for x in opts)
            if names == last:  # the list did not move: this end is reached
                if direction > 0:
                    break
                direction = 1
            seen += [n for n in names if n not in seen]
            last = names
            lb = _union([x.bounds for x in opts])
            self.fill.act(Scroll(dy=direction * SCROLL_CLICKS, x=lb.left + lb.width / 2, y=lb.top + lb.height / 2),
                          f"{desc}: scroll the list")
            opts = self._options(self.finder.model(), field) or opts
        self.fill.act(KeyPress("escape"), desc)
        raise StepFailed(f"option {option!r} is not in the list of {field.label()} "
                         f"(it offers {len(seen)}: {', '.join(repr(n) for n in seen[:40])})")

    # choose, check -------------------------------------------------------------------------------
    def radio(self, v: ChooseStep, timeout: float) -> Hit:
        """The radio ``option`` of group ``group``; where the element model has none, the option's text
        nearest the group's caption (found by the pixel grounder)."""
        by_text = Target(text=v.option, near=v.group)
        if self.finder.modeler is None:
            return self.finder.find(by_text, "radio", timeout)
        try:
            return Hit.of(self.finder.element(ElementQuery(role="radio", name=v.option, group=v.group), timeout))
        except StepFailed:  # no such radio in the model: the option's text beside the caption, on pixels
            hit = self.finder.ocr(by_text, "radio")
            if hit is None:
                raise
            return hit

    def choose(self, v: ChooseStep, desc: str, timeout: float) -> None:
        hit = self.radio(v, timeout)
        e = hit.element
        if e is None:  # found on pixels: clicked, not read back
            return self.fill.click(hit, desc)
        if e.checked:
            return
        self.fill.click(hit, desc)
        cur = self.finder.again(e, lambda x: x.checked is True, timeout)
        if cur is None or cur.checked is not True:
            raise StepFailed(f"clicked {e.label()} in group {v.group!r} but it reads "
                             f"{'gone' if cur is None else 'not selected'}")

    def check(self, v: CheckStep, desc: str, timeout: float) -> None:
        want = as_bool(v.value)
        hit = self.finder.find(v.label, "check", timeout)
        e = hit.element
        if e is None:
            return pixels.check(self.fill, hit, v.label, want, desc)
        if e.checked is want:
            return
        self.fill.click(hit, desc)
        cur = self.finder.again(e, lambda x: x.checked is want, timeout)
        if cur is None or cur.checked is not want:
            state = "gone" if cur is None else ("ticked" if cur.checked else "not ticked")
            raise StepFailed(f"clicked {e.label()} to {'tick' if want else 'untick'} it but it reads {state}")


def _union(rects: list[Rect]) -> Rect:
    left, top = min(r.left for r in rects), min(r.top for r in rects)
    return Rect(left, top, max(r.right for r in rects) - left, max(r.bottom for r in rects) - top)
