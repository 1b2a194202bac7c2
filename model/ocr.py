"""OCR engines behind one small interface, and a reader that only re-reads what changed.

Why a cache: filling a form is a long run of near-identical screens — typing into one field changes
a few hundred pixels, the labels stay put. A full OCR pass over a 1280x800 screen costs ~0.45 s on
two cores (rapidocr), a 300x35 crop ~0.03 s. ``CachedReader`` diffs each screenshot against the
previous one, keeps the text boxes of unchanged areas and re-reads only the changed rectangles
(widened to whole lines they touch), so a warm locate costs tens of milliseconds.

Two engines:

* ``RapidOcrEngine`` (rapidocr-onnxruntime, PP-OCRv4 det + rec, ships its models): the default.
  Detection is configured with ``limit_type=max`` so a screen is read at its own resolution and a
  small crop is *not* upscaled to 736 px (the package default, which made a 300x35 crop take 2 s).
* ``TesseractEngine`` (pytesseract + the Debian ``tesseract-ocr`` binary, ``--psm 11`` sparse text):
  compared side by side in ``bench/grounding.py``.

Boxes are in image pixels of the array given; ``TextBox`` is frozen so cached lists can be shared.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class TextBox:
    """One line (or word) of text found on an image: ``x, y, w, h`` in image pixels."""

    text: str
    x: int
    y: int
    w: int
    h: int
    conf: float = 1.0

    def shifted(self, dx: int, dy: int) -> "TextBox":
        return replace(self, x=self.x + dx, y=self.y + dy)

    def overlaps(self, r: tuple[int, int, int, int]) -> bool:
        x, y, w, h = r
        return self.x < x + w and x < self.x + self.w and self.y < y + h and y < self.y + self.h


class OcrEngine(Protocol):
    name: str

    def read(self, rgb: np.ndarray) -> list[TextBox]: ...


class OcrUnavailable(RuntimeError):
    """An OCR engine cannot run here; the message says what to install."""


class RapidOcrEngine:
    """rapidocr-onnxruntime. One ONNX session set per process and thread count (loading costs ~0.2 s).

    ``threads``: onnxruntime's intra-op threads; None is the package default (every core). One thread
    is what ``agent.elements.visual`` uses: on two shared cores it read a form's 19 lines in about
    half the wall time and half the CPU of the default, which spins threads that then wait for a core."""

    name = "rapidocr"
    _shared: dict[int | None, object] = {}
    _lock = threading.Lock()

    def __init__(self, min_conf: float = 0.5, threads: int | None = None) -> None:
        self.min_conf, self.threads = min_conf, threads

    def _ocr(self):
        with self._lock:
            inst = self._shared.get(self.threads)
            if inst is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as e:  # pragma: no cover - a core dependency
                    raise OcrUnavailable(f"rapidocr-onnxruntime is not installed ({e}): pip install rapidocr-onnxruntime") from e
                extra = {"intra_op_num_threads": self.threads} if self.threads else {}
                inst = RapidOCR(det_limit_type="max", det_limit_side_len=2000, print_verbose=False, **extra)
                self._shared[self.threads] = inst
            return inst

    def read(self, rgb: np.ndarray) -> list[TextBox]:
        if rgb.shape[0] < 8 or rgb.shape[1] < 8:
            return []
        res, _ = self._ocr()(np.ascontiguousarray(rgb), use_cls=False)
        out = []
        for pts, text, conf in res or []:
            if float(conf) < self.min_conf or not str(text).strip():
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            x0, y0 = int(min(xs)), int(min(ys))
            out.append(TextBox(str(text).strip(), x0, y0, int(max(xs)) - x0, int(max(ys)) - y0, float(conf)))
        return out

    def recognize(self, crops: list[np.ndarray], batch: int = 8) -> list[tuple[str, float]]:
        """The text of each crop, each crop holding one line (RGB, any size): recognition only, for
        callers that found the lines themselves (``agent.elements.detect``).

        Why not the package's own recognizer call: it pads every crop of a batch to at least 320 px
        wide (a 6.7:1 line), so a 40 px "Age" costs as much as a long sentence, and it pads to the
        widest crop of the batch, so a crop's text depends on which other crops came with it (the
        recognizer looks at the padding too). Here each crop is padded to a width that depends on its
        own shape only (the next step of a 1.25x ladder) and batched with crops of the same step:
        the same pixels always read the same, and a short label costs about a fifth."""
        if not crops:
            return []
        rec = self._ocr().text_rec
        ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
        steps = [max(1.0, 1.25 ** np.ceil(np.log(max(r, 1.0)) / np.log(1.25))) for r in ratios]
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        by_step: dict[float, list[int]] = {}
        for k, st in enumerate(steps):
            by_step.setdefault(round(st, 4), []).append(k)
        jobs = [(st, members[i:i + batch]) for st, members in sorted(by_step.items())
                for i in range(0, len(members), batch)]

        def run(job: tuple[float, list[int]]) -> None:
            st, idx = job
            norm = np.concatenate([rec.resize_norm_img(np.ascontiguousarray(crops[k]), st)[None]
                                   for k in idx]).astype(np.float32)
            decoded = rec.postprocess_op(rec.session(norm)[0], False,
                                         wh_ratio_list=[ratios[k] for k in idx], max_wh_ratio=st)
            for k, res in zip(idx, decoded):
                out[k] = (str(res[0]).strip(), float(res[1]))

        # onnxruntime runs one session from several threads at once (and lets go of the GIL): with one
        # intra-op thread per call, batches on every core. A batch's result depends on its own crops only.
        lanes = min(len(jobs), os.cpu_count() or 1) if self.threads else 1  # threads=None: ort uses every core
        if lanes > 1:
            with ThreadPoolExecutor(lanes, thread_name_prefix="ocr") as pool:
                list(pool.map(run, jobs))
        else:
            for job in jobs:
                run(job)
        return out


def read_line(engine: OcrEngine, rgb: np.ndarray, min_conf: float = 0.5) -> str | None:
    """The text of an image that holds one line (a button, a field): recognition without detection
    when the engine can (rapidocr: about half the time of a full read), else a full read joined."""
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        return None
    if isinstance(engine, RapidOcrEngine):
        res, _ = engine._ocr()(np.ascontiguousarray(rgb), use_det=False, use_cls=False, use_rec=True)
        if res:
            text, conf = res[0][0], float(res[0][1])
            return text.strip() or None if conf >= min_conf else None
        return None
    lines = engine.read(rgb)
    return " ".join(t.text for t in sorted(lines, key=lambda t: (t.y // 8, t.x))) or None


class TesseractEngine:
    """Tesseract via pytesseract, words grouped into lines. Needs the ``tesseract`` binary."""

    name = "tesseract"

    def __init__(self, min_conf: float = 40.0, psm: int = 11) -> None:
        self.min_conf, self.psm = min_conf, psm
        try:
            import pytesseract

            pytesseract.get_tesseract_version()
        except Exception as e:  # noqa: BLE001 - ImportError or TesseractNotFoundError
            raise OcrUnavailable(f"tesseract is not available ({e}): apt-get install tesseract-ocr "
                                 "&& pip install pytesseract") from e
        self._tess = pytesseract

    def read(self, rgb: np.ndarray) -> list[TextBox]:
        d = self._tess.image_to_data(rgb, config=f"--psm {self.psm}", output_type=self._tess.Output.DICT)
        lines: dict[tuple, list[int]] = {}
        for i, word in enumerate(d["text"]):
            if word.strip() and float(d["conf"][i]) >= self.min_conf:
                lines.setdefault((d["block_num"][i], d["par_num"][i], d["line_num"][i]), []).append(i)
        out = []
        for idx in lines.values():
            x0 = min(d["left"][i] for i in idx)
            y0 = min(d["top"][i] for i in idx)
            x1 = max(d["left"][i] + d["width"][i] for i in idx)
            y1 = max(d["top"][i] + d["height"][i] for i in idx)
            conf = sum(float(d["conf"][i]) for i in idx) / len(idx) / 100
            out.append(TextBox(" ".join(d["text"][i] for i in idx), x0, y0, x1 - x0, y1 - y0, conf))
        return out


def get_engine(name: str = "rapidocr") -> OcrEngine:
    if name == "rapidocr":
        return RapidOcrEngine()
    if name == "tesseract":
        return TesseractEngine()
    raise ValueError(f"unknown OCR engine {name!r}: use rapidocr or tesseract")


def content_box(rgb: np.ndarray, pad: int = 4) -> tuple[int, int, int, int]:
    """The bounding box of everything that differs from the border colour (the bare desktop around
    the windows), so a cold read skips empty screen. The whole image when nothing stands out."""
    h, w = rgb.shape[:2]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    colours, counts = np.unique(border.reshape(-1, 3), axis=0, return_counts=True)
    bg = colours[counts.argmax()]
    if counts.max() < 0.6 * len(border):
        return 0, 0, w, h
    mask = np.any(rgb[::2, ::2] != bg, axis=2)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0, 0, w, h
    x0, y0 = max(0, xs.min() * 2 - pad), max(0, ys.min() * 2 - pad)
    x1, y1 = min(w, xs.max() * 2 + 2 + pad), min(h, ys.max() * 2 + 2 + pad)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def changed_rects(a: np.ndarray, b: np.ndarray, grow: int = 6) -> list[tuple[int, int, int, int]]:
    """Rectangles (x, y, w, h) around the pixels that differ between two same-sized images."""
    import cv2

    diff = np.any(a != b, axis=2).astype(np.uint8)
    if not diff.any():
        return []
    k = np.ones((2 * grow + 1, 4 * grow + 1), np.uint8)  # wider than tall: join the letters of a line
    n, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(diff, k), connectivity=8)
    return [tuple(int(v) for v in stats[i, :4]) for i in range(1, n)]


def _union(r: tuple[int, int, int, int], boxes: list[TextBox]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = r[0], r[1], r[0] + r[2], r[1] + r[3]
    for t in boxes:
        x0, y0 = min(x0, t.x), min(y0, t.y)
        x1, y1 = max(x1, t.x + t.w), max(y1, t.y + t.h)
    return x0, y0, x1 - x0, y1 - y0


class CachedReader:
    """OCR of whole screenshots that re-reads only the rectangles that changed since the last one.

    ``read(rgb)`` returns every text box on the image. ``stats`` counts full and partial reads, so
    the benchmark and tests can show that the cache is what made a locate fast.
    """

    def __init__(self, engine: OcrEngine | None = None, *, full_ratio: float = 0.35, pad: int = 6) -> None:
        self.engine = engine or RapidOcrEngine()
        self.full_ratio, self.pad = full_ratio, pad
        self._prev: np.ndarray | None = None
        self._boxes: list[TextBox] = []
        self.stats = {"full": 0, "partial": 0, "hit": 0}
        self.exact = False  # True when the cached boxes come from a full read of this very image

    def clear(self) -> None:
        self._prev, self._boxes, self.exact = None, [], False

    def read(self, rgb: np.ndarray) -> list[TextBox]:
        prev = self._prev
        if prev is None or prev.shape != rgb.shape:
            return self._full(rgb)
        rects = changed_rects(prev, rgb)
        if not rects:
            self.stats["hit"] += 1
            return list(self._boxes)
        h, w = rgb.shape[:2]
        if sum(r[2] * r[3] for r in rects) > self.full_ratio * w * h:
            return self._full(rgb)
        keep = list(self._boxes)
        for r in rects:
            p = self.pad
            r = (max(0, r[0] - p), max(0, r[1] - p), min(w, r[0] + r[2] + p) - max(0, r[0] - p),
                 min(h, r[1] + r[3] + p) - max(0, r[1] - p))
            for _ in range(8):  # grow to whole lines until no kept line is cut by the rectangle
                hit = [t for t in keep if t.overlaps(r)]
                grown = _union(r, hit)
                if grown == r:
                    break
                r = grown
            keep = [t for t in keep if not t.overlaps(r)]
            x, y, rw, rh = r
            keep += [t.shifted(x, y) for t in self.engine.read(rgb[y:y + rh, x:x + rw])]
        self.stats["partial"] += 1
        self._prev, self._boxes, self.exact = rgb.copy(), keep, False
        return list(keep)

    def _full(self, rgb: np.ndarray) -> list[TextBox]:
        x, y, w, h = content_box(rgb)
        boxes = [t.shifted(x, y) for t in self.engine.read(rgb[y:y + h, x:x + w])]
        self.stats["full"] += 1
        self._prev, self._boxes, self.exact = rgb.copy(), boxes, True
        return list(boxes)
