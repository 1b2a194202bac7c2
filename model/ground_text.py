"""Offline grounding by what the screen *says*: OCR + fuzzy text match + label-to-field association.

Runs on a laptop CPU with no model server. ``OcrGrounder.locate(shot, query)``:

1. reads the screenshot's text through a ``CachedReader`` (only changed areas are re-read; before
   reporting "not found" from a patched cache, the whole screen is read once more);
2. scores every line against ``query.text`` with rapidfuzz — the whole line, the line without
   spaces (OCR drops spaces: "Dateofbirth"), and a substring alignment (a label inside a longer
   line) 0.05 lower, so an exact line always beats a line that merely contains the words;
3. keeps candidates inside ``query.region``; resolves ties with ``near`` (closest to an anchor text)
   or ``nth`` (reading order); two equally good candidates left over raise ``AmbiguousMatch``;
4. for ``role="field"`` finds the input box right of, or else below, the label: rectangles from
   OpenCV contours (entry borders, combobox frames), nearest first.

Nothing found raises ``ElementNotFound`` with the best-scoring lines, so the person sees what *was*
on screen. Waiting and re-capturing belong to the caller, which owns the screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from actions.coords import Rect
from model.grounding import AmbiguousMatch, ElementNotFound, Match, Query, Shot
from model.ocr import CachedReader, OcrEngine, TextBox

TIE = 0.03  # scores closer than this are "equally good"
PART_PENALTY = 0.05  # a line that merely contains the query ranks below an exact line (> TIE)
_TRAIL = re.compile(r"[\s:*]+$")


def normalize(s: str) -> str:
    return _TRAIL.sub("", re.sub(r"\s+", " ", s.strip().lower()))


def text_score(query: str, text: str) -> tuple[float, tuple[float, float]]:
    """Similarity 0..1 and the matching span of ``text`` as fractions (start, end) of its length."""
    q, t = normalize(query), normalize(text)
    if not q or not t:
        return 0.0, (0.0, 1.0)
    best = max(fuzz.ratio(q, t), fuzz.ratio(q.replace(" ", ""), t.replace(" ", ""))) / 100
    span = (0.0, 1.0)
    if len(t) > len(q) >= 3:
        a = fuzz.partial_ratio_alignment(q, t)
        part = a.score / 100 - PART_PENALTY if a is not None else 0.0
        if a is not None and part > best:
            best, span = part, (a.dest_start / len(t), a.dest_end / len(t))
    return best, span


@dataclass(frozen=True)
class _Cand:
    box: tuple[float, float, float, float]  # image pixels x, y, w, h
    score: float
    text: str


def _reading_key(c: _Cand) -> tuple[int, float]:
    x, y, w, h = c.box
    return int((y + h / 2) // max(h, 8)), x


def find_fields(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Input-like rectangles (x, y, w, h): closed contours wider than tall, at least 14 px high."""
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 30, 90)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    rects: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w < 30 or not 14 <= h <= 160 or w < 1.2 * h:
            continue
        hull = cv2.contourArea(cv2.convexHull(c))
        if hull < 0.8 * w * h:
            continue
        rects.append((x, y, w, h))
    rects.sort(key=lambda r: -r[2] * r[3])
    out: list[tuple[int, int, int, int]] = []
    for r in rects:  # an entry's inner and outer border are one field: keep the outer
        if not any(abs(r[0] - o[0]) <= 4 and abs(r[1] - o[1]) <= 4 and abs(r[2] - o[2]) <= 8
                   and abs(r[3] - o[3]) <= 8 for o in out):
            out.append(r)
    return out


def field_for_label(label: tuple[float, float, float, float], fields: list[tuple[int, int, int, int]],
                    max_right: float = 420, max_below: float = 70) -> tuple[int, int, int, int] | None:
    """The field right of the label (same line) or, failing that, just below it; nearest wins."""
    lx, ly, lw, lh = label
    cy, best, best_d = ly + lh / 2, None, None
    for f in fields:
        fx, fy, fw, fh = f
        if fx <= lx + lw / 2 <= fx + fw and fy <= cy <= fy + fh:
            continue  # the rectangle around the label itself (a frame, a button)
        if fh > 4 * lh + 40:
            continue
        if fx >= lx + lw - 4 and fy <= cy <= fy + fh:
            d = fx - (lx + lw)
            if d <= max_right and (best_d is None or d < best_d):
                best, best_d = f, d
        elif fy >= ly + lh - 4 and fx <= lx + lw and lx <= fx + fw:
            d = (fy - (ly + lh)) * 1.5  # a field below is the second choice at equal distance
            if d <= max_below * 1.5 and (best_d is None or d < best_d):
                best, best_d = f, d
    return best


def checkbox_state(rgb: np.ndarray, label: tuple[float, float, float, float]) -> bool | None:
    """Whether the tick box left of a label is ticked: True/False, or None when no box is seen.
    A box is a small square at most 48 px left of the label's text, or at its very start (OCR often
    boxes the indicator together with the text); ticked means its inside holds a mark that contrasts
    with its own background."""
    import cv2

    lx, ly, lw, lh = (int(v) for v in label)
    x0, y0 = max(0, lx - 48), max(0, ly - 6)
    crop = rgb[y0:ly + lh + 6, x0:lx + min(lw, lh + 16)]
    if crop.size == 0:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    contours, _ = cv2.findContours(cv2.Canny(gray, 30, 90), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [cv2.boundingRect(c) for c in contours]
    boxes = [b for b in boxes if 8 <= b[2] <= 32 and abs(b[2] - b[3]) <= 3]
    if not boxes:
        return None
    x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
    inner = gray[y + 2:y + h - 2, x + 2:x + w - 2].astype(int)
    if inner.size == 0:
        return None
    bg = np.median(inner)
    return bool((np.abs(inner - bg) > 60).mean() > 0.08)


class OcrGrounder:
    """Text and label-to-field grounding from OCR. One per screen; holds the OCR cache."""

    def __init__(self, engine: OcrEngine | None = None, reader: CachedReader | None = None) -> None:
        self.reader = reader or CachedReader(engine)
        self.name = f"ocr:{self.reader.engine.name}"

    def read(self, shot: Shot) -> list[TextBox]:
        return self.reader.read(np.asarray(shot.image.convert("RGB")))

    def candidates(self, shot: Shot, text: str) -> list[_Cand]:
        out = []
        for t in self.read(shot):
            s, (a, b) = text_score(text, t.text)
            out.append(_Cand((t.x + a * t.w, t.y, (b - a) * t.w, t.h), s, t.text))
        return sorted(out, key=lambda c: -c.score)

    def _to_screen(self, shot: Shot, box) -> Rect:
        x, y, w, h = box
        sx, sy = shot.map.image_to_screen(x, y)
        return Rect(sx, sy, w * shot.map.sx, h * shot.map.sy)

    def _in_region(self, shot: Shot, c: _Cand, region: Rect | None) -> bool:
        if region is None:
            return True
        x, y, w, h = c.box
        return region.contains(*shot.map.image_to_screen(x + w / 2, y + h / 2))

    def locate(self, shot: Shot, query: Query) -> Match:
        if not query.text:
            raise ElementNotFound(query, detail=" (the OCR grounder needs text to look for)")
        cands = [c for c in self.candidates(shot, query.text) if self._in_region(shot, c, query.region)]
        good = [c for c in cands if c.score >= query.min_score]
        if not good and not self.reader.exact:  # never report "not there" from patched-up cache alone
            self.reader.clear()
            cands = [c for c in self.candidates(shot, query.text) if self._in_region(shot, c, query.region)]
            good = [c for c in cands if c.score >= query.min_score]
        if not good:
            raise ElementNotFound(query, [Match(self._to_screen(shot, c.box), c.score, self.name, c.text)
                                          for c in cands[:3]])
        pick = self._choose(shot, query, good)
        if query.role != "field":
            return Match(self._to_screen(shot, pick.box), pick.score, self.name, pick.text)
        field = field_for_label(pick.box, find_fields(np.asarray(shot.image.convert("RGB"))))
        if field is None:
            raise ElementNotFound(query, [Match(self._to_screen(shot, pick.box), pick.score, self.name, pick.text)],
                                  detail=f" (found the label {pick.text!r} but no input field right of or below it)")
        return Match(self._to_screen(shot, field), pick.score, f"{self.name}+field", pick.text)

    def _choose(self, shot: Shot, query: Query, good: list[_Cand]) -> _Cand:
        top = [c for c in good if c.score >= good[0].score - TIE]
        if query.near:
            anchors = [c for c in self.candidates(shot, query.near) if c.score >= query.min_score]
            if not anchors:
                raise ElementNotFound(Query(text=query.near), detail=f" (the 'near' anchor of {query.label()!r})")
            ax, ay, aw, ah = anchors[0].box

            def dist(c: _Cand) -> float:
                x, y, w, h = c.box
                return float(np.hypot(x + w / 2 - ax - aw / 2, y + h / 2 - ay - ah / 2))

            top = sorted([c for c in top if c.box != anchors[0].box] or top, key=dist)
            if len(top) > 1 and dist(top[1]) - dist(top[0]) < 5:
                self._ambiguous(shot, query, top)
            return top[0]
        top.sort(key=_reading_key)
        if query.nth is not None:
            if not 1 <= query.nth <= len(top):
                raise ElementNotFound(query, detail=f" (nth={query.nth} but only {len(top)} equally good matches)")
            return top[query.nth - 1]
        if len(top) > 1:
            self._ambiguous(shot, query, top)
        return top[0]

    def _ambiguous(self, shot: Shot, query: Query, top: list[_Cand]) -> None:
        raise AmbiguousMatch(query, [Match(self._to_screen(shot, c.box), c.score, self.name, c.text) for c in top])
