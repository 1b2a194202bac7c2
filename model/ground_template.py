"""Offline grounding by appearance: find an image crop (an icon, a recorded target) on the screen.

OpenCV normalized cross-correlation (``TM_CCOEFF_NORMED``) on grayscale, so a theme's tint shift
does not matter but the shape does. The template is given at *screen* scale (a crop of an earlier
screenshot); when the shot is downscaled for speed or HiDPI, the template is resized to match.

Peaks are collected greedily with suppression of the template's own footprint, so two copies of
the same icon are two candidates — and, being equally good, an ``AmbiguousMatch`` unless the query
says ``nth`` or ``region``.
"""

from __future__ import annotations

import numpy as np

from actions.coords import Rect
from model.grounding import AmbiguousMatch, ElementNotFound, Match, Query, Shot

TIE = 0.02


class TemplateGrounder:
    name = "template"

    def __init__(self, threshold: float = 0.9, max_peaks: int = 8) -> None:
        self.threshold, self.max_peaks = threshold, max_peaks

    def peaks(self, shot: Shot, template) -> list[tuple[float, int, int, int, int]]:
        """``(score, x, y, w, h)`` in image pixels, best first."""
        import cv2

        img = cv2.cvtColor(np.asarray(shot.image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        tpl = np.asarray(template.convert("L"))
        fx, fy = 1 / shot.map.sx, 1 / shot.map.sy
        if abs(fx - 1) > 0.01 or abs(fy - 1) > 0.01:
            tpl = cv2.resize(tpl, (max(1, round(tpl.shape[1] * fx)), max(1, round(tpl.shape[0] * fy))),
                             interpolation=cv2.INTER_AREA)
        th, tw = tpl.shape
        if th > img.shape[0] or tw > img.shape[1]:
            return []
        res = cv2.matchTemplate(img, tpl, cv2.TM_CCOEFF_NORMED)
        res = np.nan_to_num(res, nan=-1.0)
        out = []
        for _ in range(self.max_peaks):
            _, score, _, (x, y) = cv2.minMaxLoc(res)
            if out and score < self.threshold * 0.8:
                break
            out.append((float(score), x, y, tw, th))
            res[max(0, y - th // 2):y + th // 2 + 1, max(0, x - tw // 2):x + tw // 2 + 1] = -1.0
        return out

    def locate(self, shot: Shot, query: Query) -> Match:
        if query.template is None:
            raise ElementNotFound(query, detail=" (the template grounder needs an image)")
        found = []
        for score, x, y, w, h in self.peaks(shot, query.template):
            sx, sy = shot.map.image_to_screen(x, y)
            m = Match(Rect(sx, sy, w * shot.map.sx, h * shot.map.sy), max(0.0, score), self.name, "image")
            if query.region is None or query.region.contains(*m.center):
                found.append(m)
        good = [m for m in found if m.score >= self.threshold]
        if not good:
            raise ElementNotFound(query, found[:3])
        top = sorted([m for m in good if m.score >= good[0].score - TIE], key=lambda m: (m.box.top, m.box.left))
        if query.nth is not None:
            if not 1 <= query.nth <= len(top):
                raise ElementNotFound(query, detail=f" (nth={query.nth} but only {len(top)} equally good matches)")
            return top[query.nth - 1]
        if len(top) > 1:
            raise AmbiguousMatch(query, top)
        return top[0]
