"""Element grounding: find one element by role and name (and row, group, near, nth), or say why not.

Playwright's ``getByRole("button", {name: "Save"})`` is the model here. A query names what a person
would: ``ElementQuery(role="field", name="Email")``, ``ElementQuery(role="button", name="Select",
row="12:40")``, ``ElementQuery(role="radio", name="Female", group="Sex")``. The answer is exactly one
``Element`` or a typed error listing the candidates, never a silent pick:

* ``ElementMissing`` — nothing matches well enough; ``candidates`` are the closest names on screen;
* ``ElementAmbiguous`` — several match equally well; ``candidates`` are all of them, and the
  message says how to choose (``row``, ``near``, ``nth``, ``group``).

Name matching is by **whole words**: an exact name scores 1.0; a name that contains the query as
whole words ("Email address" for "Email") 0.9 minus a little per extra word; OCR noise within a
word ("Ema1l") is forgiven by a fuzzy ratio on the whole name. A query never matches inside a word:
"Male" does not match "Female", "Pay" does not match "Payment".

Both errors subclass ``model.grounding.GroundingError``, so code that handles grounding failures
handles these too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from agent.elements.model import Element, ScreenModel, distance, reading_order, role_matches
from model.grounding import GroundingError

#: Scores closer than this are equally good.
TIE = 0.03
_NORM_WS = re.compile(r"\s+")
_TRAIL = re.compile(r"[\s:*]+$")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize(s: str | None) -> str:
    """Lower case, whitespace collapsed, a trailing colon or asterisk (required marker) removed."""
    return _TRAIL.sub("", _NORM_WS.sub(" ", (s or "").strip().lower()))


def words(s: str | None) -> list[str]:
    return _WORD.findall(normalize(s))


def contains_words(text: str | None, phrase: str | None) -> bool:
    """True when ``phrase`` occurs in ``text`` as whole words (case-insensitive): "Pay" is in
    "Pay €12.00" but not in "Payment"; "Male" is not in "Female"."""
    p, t = words(phrase), words(text)
    if not p or len(p) > len(t):
        return False
    n = len(p)
    return any(t[i:i + n] == p for i in range(len(t) - n + 1))


def name_score(query: str, name: str | None) -> float:
    """How well an element's ``name`` answers ``query`` (0..1), by whole words (module docstring)."""
    q, n = normalize(query), normalize(name)
    if not q or not n:
        return 0.0
    if q == n:
        return 1.0
    qw, nw = words(q), words(n)
    if qw and qw == nw:  # the same words, other punctuation ("E-mail" / "E mail")
        return 0.98
    best = 0.0
    if contains_words(n, q):
        extra = max(0, len(nw) - len(qw))
        best = max(0.9 - 0.02 * min(extra, 10), 0.75)
    # OCR noise: a few characters misread in the whole name, never a part of it ("Male" vs "Female"
    # differs by two added letters, which is another word, not noise)
    qs, ns = q.replace(" ", ""), n.replace(" ", "")
    if len(qs) >= 4:
        ratio = fuzz.ratio(qs, ns) / 100
        if ratio >= 0.85:
            best = max(best, ratio * 0.95)
        elif abs(len(qs) - len(ns)) <= 1 and Levenshtein.distance(qs, ns) <= max(1, len(qs) // 5):
            best = max(best, 0.82)
    return best


@dataclass(frozen=True)
class ElementQuery:
    """What to look for. Every field is optional; at least ``role`` or ``name`` is given.

    * ``role``: an element role ("button", "entry", "checkbox" ...) or a family ("field": anything
      typed or chosen into; "clickable").
    * ``name``: the label a person reads (matched by whole words).
    * ``row``: text of the element's table/list row (whole words), e.g. the departure time.
    * ``group``: the label of its radio group or fieldset.
    * ``near``: the name of another element; the nearest candidate wins.
    * ``nth``: 1-based, in reading order, among equally good candidates.
    * ``window``: part of the window title.
    * ``min_score``: how good a name match must be (0.8: a whole-word match or a near-exact name).
    """

    role: str | None = None
    name: str | None = None
    row: str | None = None
    group: str | None = None
    near: str | None = None
    nth: int | None = None
    window: str | None = None
    min_score: float = 0.8

    def describe(self) -> str:
        parts = [self.role or "element"]
        if self.name:
            parts.append(repr(self.name))
        for k in ("row", "group", "near", "window"):
            v = getattr(self, k)
            if v:
                parts.append(f"{k}={v!r}")
        if self.nth:
            parts.append(f"nth={self.nth}")
        return " ".join(parts)


def _cand(e: Element) -> str:
    b = e.bounds
    ctx = "".join(f", {k} {v!r}" for k, v in (("row", e.row), ("group", e.group)) if v)
    return f"{e.label()} at ({b.left:.0f}, {b.top:.0f}, {b.width:.0f}x{b.height:.0f}){ctx}"


class ElementMissing(GroundingError):
    def __init__(self, query: ElementQuery, candidates: Iterable[Element] = (), detail: str = ""):
        self.query = query
        self.candidates = list(candidates)
        self.detail = detail
        best = ("; closest on screen: " + "; ".join(_cand(c) for c in self.candidates[:5])) if self.candidates else ""
        super().__init__(f"no {query.describe()} on screen{detail}{best}")


class ElementAmbiguous(GroundingError):
    def __init__(self, query: ElementQuery, candidates: Iterable[Element]):
        self.query = query
        self.candidates = list(candidates)
        listed = "; ".join(_cand(c) for c in self.candidates[:8])
        super().__init__(f"{query.describe()} matches {len(self.candidates)} elements equally well: {listed}; "
                         "say which with row, group, near or nth")


def _window_ok(e: Element, window: str | None) -> bool:
    return not window or (e.window is not None and window.lower() in e.window.lower())


def score(e: Element, q: ElementQuery) -> float:
    """The match score of one element for a query (0 when a hard filter fails)."""
    if not role_matches(e.role, q.role) or not _window_ok(e, q.window):
        return 0.0
    if q.row and not contains_words(e.row, q.row):
        return 0.0
    if q.group and not (contains_words(e.group, q.group) or name_score(q.group, e.group) >= 0.9):
        return 0.0
    if not q.name:
        return 1.0 if (q.role or q.row or q.group) else 0.0
    s = name_score(q.name, e.name)
    if e.value and q.role in (None, "combobox", "field", "entry"):
        s = max(s, name_score(q.name, e.value) - 0.1)  # a field shown by its content (placeholder)
    return s


def locate(model: ScreenModel | Iterable[Element], q: ElementQuery) -> Element:
    """Exactly one element for ``q``, or ``ElementMissing`` / ``ElementAmbiguous``."""
    if not (q.role or q.name):
        raise ValueError("an element query needs a role or a name")
    elements = list(model)
    scored = [(score(e, q), e) for e in elements]
    good = [(s, e) for s, e in scored if s >= q.min_score]
    if not good:
        near_misses = sorted(((name_score(q.name or "", e.name), e) for e in elements
                              if e.name and (not q.role or role_matches(e.role, q.role) or e.interactive)),
                             key=lambda p: -p[0])
        raise ElementMissing(q, [e for s, e in near_misses[:5] if s > 0.3] or
                             [e for e in elements if role_matches(e.role, q.role)][:5])
    best = max(s for s, _ in good)
    top = reading_order(e for s, e in good if s >= best - TIE)
    if q.near:
        anchors = [e for e in elements if name_score(q.near, e.name) >= 0.8 and e not in top]
        if not anchors:
            raise ElementMissing(ElementQuery(name=q.near), detail=f" (the 'near' anchor of {q.describe()})")
        anchor = max(anchors, key=lambda e: name_score(q.near or "", e.name))
        ax, ay = anchor.center
        top.sort(key=lambda e: distance(e.bounds, ax, ay))
        if len(top) > 1 and distance(top[1].bounds, ax, ay) - distance(top[0].bounds, ax, ay) < 5:
            raise ElementAmbiguous(q, top)
        return top[0]
    if q.nth is not None:
        if not 1 <= q.nth <= len(top):
            raise ElementMissing(q, top, detail=f" (nth={q.nth} but {len(top)} equally good match(es))")
        return top[q.nth - 1]
    if len(top) > 1:
        raise ElementAmbiguous(q, top)
    return top[0]


def find_all(model: ScreenModel | Iterable[Element], q: ElementQuery) -> list[Element]:
    """Every element matching ``q`` well enough, best first, then in reading order."""
    scored = [(score(e, q), e) for e in model]
    good = [(s, e) for s, e in scored if s >= q.min_score]
    order = {id(e): i for i, e in enumerate(reading_order(e for _, e in good))}
    return [e for s, e in sorted(good, key=lambda p: (-round(p[0], 2), order[id(p[1])]))]
