"""Replay's pixel side: find a recorded target by what it looked like, when the element model cannot.

Used for recordings without element locators (older ones, ``agent run`` / ``agent do`` trajectories,
apps whose controls the visual parse does not name) and as the second try for those with one:

1. **template match** of the recorded crop (``agent.record.anchors.TemplateGrounder``, several
   scales); a crop that matches twice is retried larger — cut from the recorded screenshot — and may
   only choose between the places the smaller one matched; one that matches nowhere is retried
   smaller (less context that may have changed, e.g. a neighbouring field now filled in);
2. the **OCR text** anchor, when an OCR grounder is installed and the step has text;
3. the **VLM** grounder, when a model is configured.

Steps of ``agent run`` / ``agent do`` have no crop; one is cut from their "before" screenshot around
the action point (mapped through the step's ``screen_area`` and ``image_size``).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from agent.record.anchors import TemplateGrounder, anchor_point, crop_around, crop_boxes, match_mask, score_at
from agent.screen import Frame
from model.grounding import AmbiguousMatch, ElementNotFound, GroundingError, Grounder, Query, Shot


class PixelFinder:
    """``locate(step, anchor, point, frame, text)`` → (screen point, grounding info), or
    ``GroundingError`` naming every try. ``folder`` is the recording's (its images)."""

    def __init__(self, folder: Path, *, min_score: float = 0.8, fallbacks: list[Grounder] | None = None) -> None:
        self.folder = folder
        self.min_score = min_score
        self.template = TemplateGrounder()
        self.fallbacks = fallbacks or []
        self._images: dict[str, Image.Image] = {}

    def image(self, rel: str | None) -> Image.Image | None:
        """An image of the recording by its relative path (None when absent or outside it)."""
        if not rel:
            return None
        if rel not in self._images:
            p = (self.folder / rel).resolve()
            if not p.is_relative_to(self.folder.resolve()) or not p.is_file():
                return None
            self._images[rel] = Image.open(p).convert("RGB")
        return self._images[rel]

    @staticmethod
    def screen_scale(step: dict) -> float:
        """Recorded image pixels → screen pixels (2.0 when the screenshot was downscaled by half)."""
        area, size = step.get("screen_area"), step.get("image_size")
        return area[2] / size[0] if area and size and size[0] else 1.0

    def _cut(self, step: dict, point: tuple[float, float], size: tuple[int, int]):
        """A crop of the recorded screenshot around ``point`` (screen px), ``size`` in screen px, kept
        inside the target's window when the recording knows it."""
        shot = self.image(step.get("screenshot"))
        if shot is None:
            return None
        s = self.screen_scale(step)
        area = step.get("screen_area") or [0, 0, shot.width * s, shot.height * s]
        win = ((step.get("anchor") or {}).get("window") or {}).get("box")
        within = None
        if win:
            within = ((win[0] - area[0]) / s, (win[1] - area[1]) / s,
                      (win[0] + win[2] - area[0]) / s, (win[1] + win[3] - area[1]) / s)
        c = crop_around(shot, (point[0] - area[0]) / s, (point[1] - area[1]) / s,
                        (round(size[0] / s), round(size[1] / s)), within)
        return c.image, c.offset, match_mask(c.image.size, crop_boxes(step.get("masked") or [], c.box))

    def locate(self, step: dict, anchor: dict | None, point, frame: Frame,
               text: str | None = None) -> tuple[tuple[float, float], dict]:
        """Template first (module docstring), then the fallback grounders with ``text`` (the anchor's
        OCR text, else the caller's: the element's name)."""
        shot = Shot.full(frame.image, frame.left, frame.top)
        errors: list[str] = []
        recorded = self.image((anchor or {}).get("crop"))
        first = (recorded, tuple(anchor.get("offset") or (0, 0)),
                 match_mask(recorded.size, anchor.get("masked"))) if recorded is not None \
            else self._cut(step, point, (200, 100))
        todo = [("crop", first)] if first else []
        if not todo:
            errors.append("the step has no crop and no screenshot to cut one from")
        tried_larger = tried_smaller = False
        smaller = None  # (template, offset, scale) of a crop that matched in several places
        while todo:
            label, (tpl, offset, mask) = todo.pop(0)
            try:
                m = self.template.locate(shot, Query(template=tpl, min_score=self.min_score),
                                         scale_hint=self.screen_scale(step), mask=mask)
                p = anchor_point(m, tpl, offset)
                # a larger cut only decides between places where the smaller one matches too
                if smaller is not None:
                    st, so, ss, sm = smaller
                    ip = (p[0] - frame.left, p[1] - frame.top)
                    if score_at(frame.image, st, so, ip, ss, mask=sm) < self.min_score:
                        errors.append(f"{label}: matched where the smaller crop does not")
                        continue
                return p, {"method": "template", "crop": label, "score": round(m.score, 3)}
            except AmbiguousMatch as e:
                errors.append(f"{label}: " + str(e).replace("'image template' ", "the crop "))
                if smaller is None:
                    smaller = (tpl, offset, e.matches[0].box.width / tpl.width, mask)
                if not tried_larger:
                    tried_larger = True
                    todo += [(f"{w}x{h}", c) for w, h in ((400, 200), (800, 400))
                             if (c := self._cut(step, point, (w, h)))]
            except ElementNotFound as e:
                errors.append(f"{label}: " + str(e).replace("element 'image template' ", "the crop "))
                if not tried_smaller and not tried_larger:
                    tried_smaller = True
                    todo += [(f"{w}x{h}", c) for w, h in ((100, 50),) if (c := self._cut(step, point, (w, h)))]
        text = (anchor or {}).get("text") or (step.get("action") or {}).get("target") or text
        for g in self.fallbacks:
            if not text:  # a VLM asked about "None" would answer something: better not ask
                errors.append(f"{getattr(g, 'name', 'fallback')}: the step has no text to describe its target")
                continue
            try:
                m = g.locate(shot, Query(text=text))
                (cx, cy), name = m.center, getattr(g, "name", "fallback")
                off = (anchor or {}).get("text_offset")
                if off and name.startswith("ocr") and text == (anchor or {}).get("text"):
                    cx, cy = cx + off[0], cy + off[1]  # the click was beside the text (a field by its label)
                return (cx, cy), {"method": name, "score": round(m.score, 3)}
            except GroundingError as e:
                errors.append(f"{getattr(g, 'name', 'fallback')}: {e}")
        raise GroundingError("; ".join(errors))
