"""The click-calibration window used by ``agent doctor``.

Why a separate window: the doctor must prove, on *this* machine, that "a pixel seen in a
screenshot" and "a pixel the mouse clicks" are the same place (HiDPI, display scaling and
downscaled screenshots are where peer agents click wrong). The proof needs ground truth that the
agent does not produce itself, so a plain Tk app draws targets at known positions and records, in
its own words, where each click really landed (``event.x_root``/``event.y_root`` from the X server).

    python -m agent.desktop.calibration --out /tmp/cal.json [--targets 3x3] [--geometry WxH+X+Y] [--timeout 60]

The window is borderless (``overrideredirect``: no decoration shifts the canvas) and covers the
geometry (default: the whole screen) in white. Each target is a ``TARGET_SIZE`` square (odd, so its
centre is one pixel) in its own saturated colour, so a screenshot tells targets apart by colour
alone; the grid keeps ``MARGIN`` px from every edge, far from pyautogui's fail-safe corners. The
file, rewritten atomically (tmp + ``os.replace``) once the window is mapped and after every click:

    {"ready": true, "geometry": [w, h, x, y], "size": 13,
     "targets": [{"id": 0, "x": 46, "y": 46, "rgb": [255, 0, 0]}, ...],   # centres, screen coords
     "clicks": [{"x_root": 46, "y_root": 47, "t": 1712345678.9, "button": 1}, ...]}

The window exits on Escape or after ``--timeout`` s (a crashed doctor never leaves it on screen).
:func:`measure` is the other side, run by the doctor; Tk is imported only in :func:`main`.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field

TITLE = "desk-agent calibration"
#: Side of a target square in screen pixels. Odd, so the centre is a single pixel.
TARGET_SIZE = 13
#: Minimum distance of a target's edge from the window's edge (fail-safe corners, panels).
MARGIN = 40



@dataclass(frozen=True, slots=True)
class Target:
    """One target: ``x``/``y`` is its centre pixel in screen coordinates."""

    id: int
    x: int
    y: int
    rgb: tuple[int, int, int]


def parse_grid(text: str) -> tuple[int, int]:
    """``"3x3"`` → ``(3, 3)`` (columns, rows); each 1..8 (64 colours still differ clearly)."""
    m = re.fullmatch(r"\s*([1-8])\s*[xX]\s*([1-8])\s*", text)
    if not m:
        raise ValueError(f"bad target grid {text!r}: expected COLSxROWS, each 1..8, e.g. 3x3")
    return int(m.group(1)), int(m.group(2))


def parse_geometry(text: str) -> tuple[int, int, int, int]:
    """``"800x600+10+20"`` → ``(800, 600, 10, 20)`` (width, height, left, top)."""
    m = re.fullmatch(r"([1-9]\d*)x([1-9]\d*)([+-]\d+)([+-]\d+)", text.strip())
    if not m:
        raise ValueError(f"bad geometry {text!r}: expected WxH+X+Y, e.g. 1280x800+0+0")
    w, h, x, y = (int(g) for g in m.groups())
    return w, h, x, y


def target_colours(n: int) -> list[tuple[int, int, int]]:
    """``n`` fully saturated colours, hues spread evenly: each has a channel at 255 and one at 0
    (far from the white background; the zero channel also measures edge coverage, see
    :func:`find_targets`), and neighbours differ by about 1530/n in one channel."""
    rgb = (colorsys.hsv_to_rgb(i / n, 1.0, 1.0) for i in range(n))
    return [(round(r * 255), round(g * 255), round(b * 255)) for r, g, b in rgb]


def layout_targets(width: int, height: int, left: int = 0, top: int = 0,
                   cols: int = 3, rows: int = 3) -> list[Target]:
    """Targets on a ``cols`` × ``rows`` grid over the rectangle, ``MARGIN`` px clear of its edges.

    Ids run row by row from the top left. A single column/row sits in the middle.
    """
    half = TARGET_SIZE // 2
    inset = MARGIN + half

    def spread(extent: int, n: int) -> list[int]:
        lo, hi = inset, extent - 1 - inset
        if hi < lo:
            raise ValueError(f"the window ({width}x{height}) is too small for targets with a {MARGIN} px margin")
        if n == 1:
            return [(lo + hi) // 2]
        return [round(lo + (hi - lo) * i / (n - 1)) for i in range(n)]

    xs, ys = spread(width, cols), spread(height, rows)
    colours = target_colours(cols * rows)
    return [Target(r * cols + c, left + x, top + y, colours[r * cols + c])
            for r, y in enumerate(ys) for c, x in enumerate(xs)]


def write_json(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old or the new file, never half)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_json(path: str) -> dict | None:
    """The file's content, or None while it does not exist yet."""
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def find_targets(image, colours: dict[int, tuple[int, int, int]], *, expected_side: float = TARGET_SIZE,
                 tolerance: int = 60) -> tuple[dict[int, tuple[float, float]], dict[int, str]]:
    """Find each target in a screenshot by its colour; return ``(centres, problems)``.

    ``centres[id]`` is the centroid in *continuous* image coordinates (pixel index + 0.5, the
    convention of ``actions.coords.ImageMap``), so mapping it to the screen needs no ad-hoc offsets.
    ``expected_side`` is a target's side in image pixels (``TARGET_SIZE`` times the image's pixels
    per screen pixel). A colour matched by too few pixels is missing; one spread far wider than a
    target (the colour also appears elsewhere) is ambiguous: both go to ``problems``, never guessed.
    Only non-white pixels are classified, so this costs a few ms on a white calibration screen.
    """
    import numpy as np

    arr = np.asarray(image.convert("RGB"), dtype=np.int16)
    ys, xs = np.nonzero(arr.min(axis=2) < 200)  # every target colour has a channel at 0
    px = arr[ys, xs]
    ids = list(colours)
    pal = np.array([colours[i] for i in ids], dtype=np.int16).reshape(-1, 3)
    # Each pixel goes to its nearest target colour, and only if well inside half the gap to the next.
    gap = min((int(np.abs(a - b).max()) for k, a in enumerate(pal) for b in pal[k + 1:]), default=255)
    tolerance = min(tolerance, gap // 2 - 1)
    best = np.zeros(len(px), dtype=np.int64)
    best_d = np.full(len(px), 9999, dtype=np.int16)
    for k, rgb in enumerate(pal):
        d = np.abs(px - rgb).max(axis=1)
        closer = d < best_d
        best[closer], best_d[closer] = k, d[closer]
    centres: dict[int, tuple[float, float]] = {}
    problems: dict[int, str] = {}
    min_px = max(1, int(0.25 * expected_side ** 2))
    max_extent = 2 * expected_side + 2
    for k, tid in enumerate(ids):
        rgb = colours[tid]
        sel = (best == k) & (best_d <= tolerance)
        n = int(sel.sum())
        if n < min_px:
            problems[tid] = f"not visible ({n} matching px)"
            continue
        tx, ty = xs[sel], ys[sel]
        if tx.max() - tx.min() + 1 > max_extent or ty.max() - ty.min() + 1 > max_extent:
            problems[tid] = "its colour also appears elsewhere on screen"
            continue
        # Sub-pixel centre: a downscale blends edge pixels with the white background linearly, so
        # in the channel where the target is 0 a pixel's value gives its coverage (1 - v/255); the
        # coverage-weighted centroid around the blob is the square's true centre, whatever the scale.
        x0, y0 = max(int(tx.min()) - 2, 0), max(int(ty.min()) - 2, 0)
        cover = 1.0 - arr[y0:int(ty.max()) + 3, x0:int(tx.max()) + 3, int(np.argmin(rgb))] / 255.0
        cover[cover < 0.05] = 0.0
        gy, gx = np.mgrid[y0:y0 + cover.shape[0], x0:x0 + cover.shape[1]]
        total = float(cover.sum())
        centres[tid] = (float((cover * gx).sum()) / total + 0.5, float((cover * gy).sum()) / total + 0.5)
    return centres, problems


class CalibrationWindow:
    """The Tk window. Kept small on purpose: draw, record clicks, write the file."""

    def __init__(self, root, out: str, geometry: tuple[int, int, int, int],  # noqa: ANN001 - tk.Tk
                 grid: tuple[int, int]) -> None:
        import tkinter as tk

        self.root, self.out = root, out
        w, h, x, y = geometry
        self.geometry = geometry
        root.title(TITLE)
        root.overrideredirect(True)  # no decorations: canvas (0, 0) is the window's (x, y)
        root.geometry(f"{w}x{h}+{x}+{y}")
        root.configure(background="white", cursor="crosshair")
        self.canvas = tk.Canvas(root, width=w, height=h, background="white",
                                highlightthickness=0, borderwidth=0)
        self.canvas.place(x=0, y=0, width=w, height=h)
        # Positions are laid out in window coordinates and turned into screen coordinates once the
        # window is mapped (winfo_rootx/y), so the file reports where the targets really are.
        self.local = layout_targets(w, h, 0, 0, *grid)
        half = TARGET_SIZE // 2
        for t in self.local:
            colour = "#%02x%02x%02x" % t.rgb
            # A rectangle without outline fills [x0, x1) x [y0, y1): TARGET_SIZE px centred on t.
            self.canvas.create_rectangle(t.x - half, t.y - half, t.x + half + 1, t.y + half + 1,
                                         fill=colour, outline="")
        self.targets: list[Target] = []
        self.clicks: list[dict] = []
        self.canvas.bind("<ButtonPress>", self.on_click)
        root.bind_all("<Escape>", lambda e: root.destroy())
        root.after(10, self.when_mapped)

    def when_mapped(self) -> None:
        if not self.root.winfo_viewable():
            self.root.after(10, self.when_mapped)
            return
        self.root.lift()
        self.root.update_idletasks()
        ox, oy = self.canvas.winfo_rootx(), self.canvas.winfo_rooty()
        self.targets = [Target(t.id, ox + t.x, oy + t.y, t.rgb) for t in self.local]
        self.save()

    def on_click(self, event) -> None:  # noqa: ANN001
        self.clicks.append({"x_root": event.x_root, "y_root": event.y_root, "t": time.time(),
                            "button": event.num})
        self.save()

    def save(self) -> None:
        write_json(self.out, {
            "ready": bool(self.targets),
            "geometry": list(self.geometry),
            "size": TARGET_SIZE,
            "targets": [asdict(t) for t in self.targets],
            "clicks": self.clicks,
        })


# The measuring side (run by the doctor, in its own process) -----------------------------------

class CalibrationError(Exception):
    """The calibration could not run at all (window did not start, fail-safe corner ...)."""


@dataclass
class CalibrationPass:
    """One round of clicks from one image: full size, or a downscaled copy as a model would see."""

    label: str
    image_size: tuple[int, int]
    tolerance: float
    targets: int
    found: int = 0
    truth: dict[int, tuple[int, int]] = field(default_factory=dict)  # target id -> true centre
    errors: dict[int, float] = field(default_factory=dict)  # target id -> px between truth and click
    landed: dict[int, tuple[int, int]] = field(default_factory=dict)
    problems: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def clicked(self) -> int:
        return len(self.errors)

    @property
    def ok(self) -> bool:
        return (not self.notes and self.found == self.clicked == self.targets
                and max(self.errors.values(), default=0.0) <= self.tolerance)

    def to_json(self) -> dict:
        errs = list(self.errors.values())
        return {"label": self.label, "image_size": list(self.image_size), "tolerance_px": self.tolerance,
                "targets": self.targets, "found": self.found, "clicked": self.clicked,
                "mean_px": round(sum(errs) / len(errs), 3) if errs else None,
                "max_px": round(max(errs), 3) if errs else None,
                "problems": {str(k): v for k, v in self.problems.items()}, "notes": self.notes}


def _wait_for(read, pred, timeout: float, proc=None):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        state = read()
        if state is not None and pred(state):
            return state
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            return None
        time.sleep(0.005)


def measure(backend, screen, *, display: str | None = None, grid: tuple[int, int] = (3, 3),
            max_size: tuple[int, int] = (960, 600), ready_timeout: float = 4.0) -> list[CalibrationPass]:
    """Show the targets, find them in a screenshot, click them through the executor, compare.

    ``backend`` is an ``actions.backends`` backend (pyautogui for the doctor), ``screen`` an
    ``agent.screen.Screen``. Targets are located by colour in the capture, never taken from the
    window's file: the file is only the ground truth the clicks are judged against. The window is
    killed whatever happens.
    """
    import subprocess
    import sys
    import tempfile
    from math import ceil, hypot
    from pathlib import Path

    from actions.coords import ImageMap, Rect
    from actions.errors import SafetyStop
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no
    from actions.space import Click
    from agent.screen import downscale

    iw = backend.layout().bounds.width
    mon = screen.monitors()[0]
    scale = mon.width / iw
    area = Rect(mon.left / scale, mon.top / scale, mon.width / scale, mon.height / scale)
    env = dict(os.environ, **({"DISPLAY": display} if display else {}))
    root = str(Path(__file__).resolve().parents[2])  # so `-m agent.desktop.calibration` works from a checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="desk-agent-cal-") as tmp, tempfile.TemporaryFile() as err:
        out = os.path.join(tmp, "calibration.json")
        proc = subprocess.Popen([sys.executable, "-m", "agent.desktop.calibration", "--out", out,
                                 "--targets", f"{grid[0]}x{grid[1]}", "--timeout", "30"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        read = lambda: read_json(out)  # noqa: E731
        try:
            state = _wait_for(read, lambda s: s.get("ready"), ready_timeout, proc)
            if state is None:
                err.seek(0)
                last = (err.read().decode("utf-8", "replace").strip().splitlines() or ["no error output"])[-1]
                raise CalibrationError(f"the calibration window did not start within {ready_timeout:g} s: {last}")
            truth = {t["id"]: t for t in state["targets"]}
            colours = {tid: tuple(t["rgb"]) for tid, t in truth.items()}
            deadline = time.monotonic() + 1.5  # the window is mapped; wait (bounded) until it is drawn
            while True:
                frame = screen.capture(0)
                _, missing = find_targets(frame.image, colours, expected_side=TARGET_SIZE * scale)
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            small, _ = downscale(frame.image, max_size)
            ex = Executor(backend, SafetyPolicy(max_steps=10_000, max_seconds=60), confirmer=always_no)
            passes, seen = [], len(state["clicks"])
            for label, img, imap in (
                (f"full {frame.width}x{frame.height}", frame.image, ImageMap.for_capture(area, scale)),
                (f"downscaled {small.width}x{small.height}", small, ImageMap.for_capture(area, scale, max_size)),
            ):
                tol = 2.0 if img is frame.image else float(max(2, ceil(max(imap.sx, imap.sy))))
                p = CalibrationPass(label, img.size, tol, len(truth),
                                    truth={tid: (t["x"], t["y"]) for tid, t in truth.items()})
                passes.append(p)
                if (imap.width, imap.height) != img.size:
                    p.notes.append(f"ImageMap.for_capture predicts {imap.width}x{imap.height} but the image "
                                   f"is {img.width}x{img.height}")
                    imap = imap.resized(*img.size)
                centres, p.problems = find_targets(img, colours, expected_side=TARGET_SIZE / imap.sx)
                p.found = len(centres)
                for tid, (px, py) in sorted(centres.items()):
                    r = ex.execute(Click(*imap.image_to_screen(px, py)))
                    if not r.ok:
                        p.problems[tid] = f"click refused: {r.error}"
                        continue
                    now = _wait_for(read, lambda s: len(s["clicks"]) > seen, 1.0, proc)
                    if now is None:
                        p.problems[tid] = "the click never reached the calibration window"
                        continue
                    c, t = now["clicks"][seen], truth[tid]
                    seen = len(now["clicks"])
                    p.landed[tid] = (c["x_root"], c["y_root"])
                    p.errors[tid] = hypot(c["x_root"] - t["x"], c["y_root"] - t["y"])
            return passes
        except SafetyStop as e:
            raise CalibrationError(f"stopped: {e}") from None
        finally:
            proc.terminate()
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Click-calibration targets for `agent doctor`.")
    ap.add_argument("--out", required=True, help="JSON file rewritten at start and after every click")
    ap.add_argument("--targets", default="3x3", help="grid of targets, COLSxROWS (default 3x3)")
    ap.add_argument("--geometry", default=None, help="WxH+X+Y to cover (default: the whole screen)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before the window closes itself")
    args = ap.parse_args(argv)
    try:
        grid = parse_grid(args.targets)
        geometry = parse_geometry(args.geometry) if args.geometry else None
    except ValueError as e:
        ap.error(str(e))

    import tkinter as tk

    root = tk.Tk()
    if geometry is None:
        geometry = (root.winfo_screenwidth(), root.winfo_screenheight(), 0, 0)
    try:
        CalibrationWindow(root, args.out, geometry, grid)
    except ValueError as e:
        root.destroy()
        ap.error(str(e))
    root.after(max(1, int(args.timeout * 1000)), root.destroy)
    root.mainloop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
