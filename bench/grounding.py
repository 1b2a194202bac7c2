"""Grounding benchmark: OCR locate time and precision, and fill on the element model against OCR and a person.

    python bench/grounding.py [--screens 24] [--engines rapidocr,tesseract] [--repeat 5] [--parts ocr,precision,fill]

1. **Time to locate** a labeled field ("the input right of 'Postcode'") on generated 1280x800 and
   1920x1080 screens:
   * *load*: creating the engine and its first full read at this screen size (model load and
     onnxruntime's per-shape warm-up; once per process);
   * *cold*: the first locate on a new screen (a full OCR pass over the content area);
   * *warm, unchanged*: the same screen again (the cache answers);
   * *warm, one field typed*: text typed into one field since the last read (only the changed
     rectangle is re-read) — the common case while filling a form;
   * *warm, no cache*: a full OCR pass with the engine loaded (what every locate would cost
     without the cache).
2. **Precision** on a labeled set of screenshots it generates — fonts (DejaVu Sans, Serif, Mono,
   Condensed), sizes 11-20 px, light/dark/blue themes, fields right of or below their labels,
   some fields already filled: the share of labels whose located field centre lies inside the true
   field box, and the share of label texts found inside the true label box.

3. **Fill on real apps** (``--fill``, on by default): ``agent fill`` itself, run as a person would run
   it (``--virtual --app ...``), on the intake form (Tk: the visual parse) at 1280x800 and 1920x1080
   and on Rail&Go in Chromium (the accessibility tree) at 1280x800:
   * *grounding per action, warm*: the seconds the element model spent per action (snapshots of the
     settled screen, queries, read-backs), from the trajectory's ``ground_s``, rows after the first;
   * *the old OCR path* on the very same frames (the trajectory's screenshots, in order, through
     the OCR text grounder with its cache warm): one ``locate`` per action, without read-backs;
   * *a row against a person*: fill's time per row (from its results) against a person's, taken as
     1 s per action (a click, a scroll, a key, a typed text) plus typing at 5 characters a second.

Figures are medians over ``--repeat`` runs, in milliseconds, on this machine's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from model.ground_text import OcrGrounder  # noqa: E402
from model.grounding import GroundingError, Query, Shot  # noqa: E402
from model.ocr import CachedReader, OcrUnavailable, get_engine  # noqa: E402

FONTS = {"sans": "DejaVuSans.ttf", "serif": "DejaVuSerif.ttf", "mono": "DejaVuSansMono.ttf",
         "condensed": "DejaVuSansCondensed.ttf"}
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
THEMES = {  # window, text, field, border, desktop
    "light": ((236, 236, 236), (20, 20, 20), (255, 255, 255), (90, 90, 90), (40, 60, 90)),
    "dark": ((43, 43, 43), (235, 235, 235), (60, 63, 65), (120, 120, 120), (10, 10, 10)),
    "blue": ((220, 230, 245), (10, 30, 70), (250, 252, 255), (70, 100, 160), (90, 90, 90)),
}
WORDS = ["First name", "Last name", "Email", "Phone", "Street", "City", "Postcode", "Country", "Company",
         "Job title", "Website", "Username", "Password", "Birthday", "Account number", "Reference",
         "Department", "Manager", "Start date", "Notes", "Invoice", "Amount", "Currency", "Region"]
FILL = ["Ada", "Lovelace", "12 Main St", "Oslo", "0150", "ACME Ltd", "2024-01-31", "NO-93", "42.00"]


@dataclass
class Labeled:
    image: Image.Image
    items: list[tuple[str, tuple[int, int, int, int], tuple[int, int, int, int]]]  # text, label box, field box
    font: ImageFont.FreeTypeFont
    theme: tuple


def make_screen(rng: random.Random, size: tuple[int, int], font: str, px: int, theme: str,
                n: int = 10) -> Labeled:
    win, fg, field, border, desk = THEMES[theme]
    img = Image.new("RGB", size, desk)
    d = ImageDraw.Draw(img)
    f = ImageFont.truetype(str(FONT_DIR / FONTS[font]), px)
    wx, wy = rng.randint(20, 200), rng.randint(20, 80)
    ww, wh = min(size[0] - wx - 20, 1100), min(size[1] - wy - 20, 720)
    d.rectangle([wx, wy, wx + ww, wy + wh], fill=win)
    below = rng.random() < 0.4
    labels = rng.sample(WORDS, n)
    row_h = int(px * (4.2 if below else 2.6))
    fh = int(px * 1.8)
    items = []
    for i, text in enumerate(labels):
        col, row = divmod(i, (wh - 40) // row_h)
        x, y = wx + 24 + col * 520, wy + 24 + row * row_h
        if x + 480 > wx + ww:
            break
        d.text((x, y), text, font=f, fill=fg)
        lb = d.textbbox((x, y), text, font=f)
        fx, fy = (x, lb[3] + 6) if below else (x + 190, y + (lb[3] - lb[1]) // 2 - fh // 2 + 2)
        fw = rng.randint(200, 300)
        d.rectangle([fx, fy, fx + fw, fy + fh], fill=field, outline=border)
        if rng.random() < 0.4:
            d.text((fx + 6, fy + (fh - px) // 2 - 1), rng.choice(FILL), font=f, fill=fg)
        items.append((text, (lb[0], lb[1], lb[2] - lb[0], lb[3] - lb[1]), (fx, fy, fw + 1, fh + 1)))
    return Labeled(img, items, f, THEMES[theme])


def type_into(s: Labeled, k: int, text: str) -> Image.Image:
    img = s.image.copy()
    _, _, (fx, fy, fw, fh) = s.items[k]
    ImageDraw.Draw(img).text((fx + fw // 2, fy + 4), text, font=s.font, fill=s.theme[1])
    return img


def inside(pt: tuple[float, float], box: tuple[int, int, int, int], slack: int = 2) -> bool:
    x, y, w, h = box
    return x - slack <= pt[0] <= x + w + slack and y - slack <= pt[1] <= y + h + slack


def ms(f) -> float:
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1000


def timing(engine_name: str, size: tuple[int, int], repeat: int) -> dict[str, float]:
    rng = random.Random(7)
    t0 = time.perf_counter()
    engine = get_engine(engine_name)
    OcrGrounder(reader=CachedReader(engine)).read(Shot.full(make_screen(rng, size, "sans", 14, "light").image))
    out = {"load": (time.perf_counter() - t0) * 1000}  # engine + first full read at this size (warm-up)
    cold, hit, typed, nocache = [], [], [], []
    for r in range(repeat):
        s = make_screen(rng, size, "sans", 14, "light")
        q = Query(text=s.items[3][0], role="field")
        g = OcrGrounder(reader=CachedReader(engine))
        cold.append(ms(lambda: g.locate(Shot.full(s.image), q)))
        hit.append(ms(lambda: g.locate(Shot.full(s.image.copy()), q)))
        changed = type_into(s, 5, f"typed {r}")
        typed.append(ms(lambda: g.locate(Shot.full(changed), q)))
        fresh = OcrGrounder(reader=CachedReader(engine))
        nocache.append(ms(lambda: fresh.locate(Shot.full(s.image), q)))
    out.update(cold=statistics.median(cold), warm_unchanged=statistics.median(hit),
               warm_one_field_typed=statistics.median(typed), warm_no_cache=statistics.median(nocache))
    return out


def precision(engine_name: str, screens: int) -> dict[str, float]:
    rng = random.Random(11)
    engine = get_engine(engine_name)
    fields = labels = total = 0
    misses: list[str] = []
    t = time.perf_counter()
    for i in range(screens):
        font = list(FONTS)[i % len(FONTS)]
        theme = list(THEMES)[(i // len(FONTS)) % len(THEMES)]
        px = [11, 12, 13, 14, 16, 18, 20][i % 7]
        size = (1280, 800) if i % 2 == 0 else (1920, 1080)
        s = make_screen(rng, size, font, px, theme)
        g = OcrGrounder(reader=CachedReader(engine))
        shot = Shot.full(s.image)
        for text, lbox, fbox in s.items:
            total += 1
            try:
                m = g.locate(shot, Query(text=text, role="field"))
                ok = inside(m.center, fbox)
                fields += ok
                if not ok:
                    misses.append(f"{text!r} ({font} {px}px {theme}): field at {m.center}")
            except GroundingError as e:
                misses.append(f"{text!r} ({font} {px}px {theme}): {type(e).__name__}")
            try:
                labels += inside(g.locate(shot, Query(text=text, role="text")).center, lbox, 4)
            except GroundingError:
                pass
    return {"labels": total, "field_precision": fields / total, "label_precision": labels / total,
            "seconds": time.perf_counter() - t, "misses": misses}


# --- fill on real apps ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PERSON_S_PER_ACTION, PERSON_CHARS_PER_S = 1.0, 5.0
FILL_RUNS = (  # name, example, --app, screen size, extra options
    ("intake (Tk, visual)", "intake", "intake", "1280x800", []),
    ("intake (Tk, visual)", "intake", "intake", "1920x1080", []),
    ("Rail&Go (Chromium, a11y)", "web", "web", "1280x800", ["--yes"]),
)


def run_fill(example: str, app: str, size: str, extra: list[str], out: Path) -> dict:
    """``agent fill`` on a fresh virtual desktop; the run folder's results and trajectory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    script = ROOT / "examples" / example / "fill.yaml"
    r = subprocess.run([sys.executable, "-m", "agent", "fill", str(script), "--app", app, "--virtual", "--size", size,
                        "--out", str(out), "--no-kill-hotkey", *extra], capture_output=True, text=True, env=env,
                       cwd=ROOT, stdin=subprocess.DEVNULL, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"agent fill {example} exited {r.returncode}: {r.stdout[-1500:]}{r.stderr[-1500:]}")
    steps = [json.loads(line) for line in (out / "trajectory" / "steps.jsonl").read_text().splitlines()]
    return {"rows": json.loads((out / "results.json").read_text())["rows"], "steps": steps}


def person_s(steps: list[dict]) -> float:
    typed = sum(len(s["action"].get("text", "")) for s in steps if s["action"]["type"] == "type")
    return len(steps) * PERSON_S_PER_ACTION + typed / PERSON_CHARS_PER_S


def ocr_per_action(steps: list[dict], folder: Path, engine: str = "rapidocr") -> list[float]:
    """The old path on the same frames: one OCR locate per element-found action, cache warm (row 1
    warms it, untimed), in the order fill met them."""
    from model.grounders import OfflineGrounder

    g = OfflineGrounder(engine)
    out = []
    for s in steps:
        e = (s.get("match") or {}).get("element")
        if not e or not s.get("screenshot") or not e.get("name"):
            continue
        img = Image.open(folder / "trajectory" / s["screenshot"]).convert("RGB")
        left, top, w, h = s["screen_area"]
        role = "field" if e["role"] in ("entry", "textarea", "spinbox", "combobox") else "any"
        q = Query(text=e["name"], role=role)
        t = time.perf_counter()
        try:
            g.locate(Shot.full(img, left, top, img.width / w), q)
        except GroundingError:
            pass
        if s["row"] > 1:
            out.append(time.perf_counter() - t)
    return out


def fill_figures(repeat_dir: Path) -> None:
    print("\nfill on real apps: `agent fill --virtual --app NAME` (2-core CPU; rows after the first = warm)")
    print(f"{'app':<26} {'screen':<10} {'rows':>4} {'actions/row':>11} {'elements ms/action p50':>23} "
          f"{'OCR ms/action p50':>18} {'ratio':>6} {'fill s/row':>10} {'person s/row':>12} {'fill/person':>11}")
    for name, example, app, size, extra in FILL_RUNS:
        out = repeat_dir / f"{example}-{size}"
        try:
            run = run_fill(example, app, size, extra, out)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"{name:<26} {size:<10} failed: {e}")
            continue
        warm = [s for s in run["steps"] if s["row"] > 1]
        ground = [s.get("ground_s") or 0.0 for s in warm]
        ocr = ocr_per_action(run["steps"], out)
        rows = [r for r in run["rows"] if r["row"] > 1 and r["status"] == "ok"]
        fill_row = statistics.median(r["duration_s"] for r in rows)
        person_row = statistics.median(person_s([s for s in warm if s["row"] == r["row"]]) for r in rows)
        per_row = statistics.median(sum(1 for s in warm if s["row"] == r["row"]) for r in rows)
        el_ms, ocr_ms = statistics.median(ground) * 1000, statistics.median(ocr) * 1000
        print(f"{name:<26} {size:<10} {len(run['rows']):>4} {per_row:>11.0f} {el_ms:>23.0f} {ocr_ms:>18.0f} "
              f"{ocr_ms / el_ms if el_ms else float('inf'):>5.1f}x {fill_row:>10.1f} {person_row:>12.1f} "
              f"{fill_row / person_row:>11.2f}")
    print(f"  person = {PERSON_S_PER_ACTION:g} s per action + typing at {PERSON_CHARS_PER_S:g} chars/s; "
          "targets: grounding <= 150 ms p50 per action, a row in <= 1/3 of a person's time (fill/person <= 0.33)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", type=int, default=24, help="generated screenshots for precision")
    ap.add_argument("--repeat", type=int, default=5, help="timing repetitions (median reported)")
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("--parts", default="ocr,precision,fill", help="which parts to run: ocr, precision, fill")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    engines = []
    for name in args.engines.split(","):
        try:
            get_engine(name)
            engines.append(name)
        except OcrUnavailable as e:
            print(f"{name}: skipped ({e})")
    if "ocr" in parts:
        print(f"locate time, ms (median of {args.repeat}; 2-core CPU)")
        cols = ["load", "cold", "warm_unchanged", "warm_one_field_typed", "warm_no_cache"]
        print(f"{'engine':<10} {'screen':<10} " + " ".join(f"{c:>21}" for c in cols))
        for name in engines:
            for size in ((1280, 800), (1920, 1080)):
                r = timing(name, size, args.repeat)
                print(f"{name:<10} {size[0]}x{size[1]:<5} " + " ".join(f"{r[c]:>21.0f}" for c in cols))
    if "precision" in parts:
        print(f"\nprecision on {args.screens} generated screenshots (fonts x sizes x themes, fields right/below)")
        for name in engines:
            p = precision(name, args.screens)
            print(f"{name:<10} {p['labels']} labels: field found inside the right box {p['field_precision']:.1%}, "
                  f"label text inside its box {p['label_precision']:.1%} ({p['seconds']:.1f} s)")
            for m in p["misses"][:8]:
                print(f"    miss: {m}")
    if "fill" in parts:
        with tempfile.TemporaryDirectory(prefix="bench-fill-") as tmp:
            fill_figures(Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
