"""Prompt size per observation mode on Rail&Go: image tokens + text tokens, beside today's screenshot mode.

For each screen size (1280x800 and 1920x1080, the screenshot sent at the screen's own size as with
``--max-size`` set to it) Rail&Go runs in Chromium on a fresh Xvfb with an accessibility bus, and four
pages are measured: the search form, the date picker open (a calendar of 31 day buttons), the
results table and the passenger details form. On each page the first step's prompt is built the way
``agent run`` builds it (``agent.observe.build_view`` then ``family.build_messages``) for GLM-4.5V
in each mode and for the generic family with marks and element lists, and measured:

* image tokens — GLM-4.5V's image processor arithmetic (``model.tokens.glm_image_tokens``) for every
  image in the prompt (the same for every mode: SoM draws on the screenshot, it adds none);
* text tokens — ``model.marks.estimate_tokens`` over every text part (an estimate: no tokenizer is
  downloaded; it errs high);
* build ms — the step's view: the PNG encode, plus the element snapshot, the list and the marks;
* ratio — the prompt's total over GLM-4.5V's plain screenshot prompt (today's default) on the same
  page in the same run.

    python bench/prompt_size.py [--sizes 1280x800,1920x1080] [--save DIR]  (DIR: the SoM screenshots)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = [("glm45v", "screenshot"), ("glm45v", "screenshot+elements"), ("glm45v", "som"),
         ("generic", "screenshot+elements"), ("generic", "som")]
GOAL = ("On the Rail&Go site, book the 11:00 train from Berlin Hbf to Munich Hbf on 2027-01-28 for 2 passengers. "
        "Passenger Ada Lovelace, email ada@example.org, seat Aisle. Pay with card 4111 1111 1111 1111.")


def measure(runner, pages: str, save: str | None = None) -> list[dict]:
    """Every case on the current screen (``save``: a folder for the Set-of-Mark screenshots)."""
    from agent.observe import build_view
    from model.base import ImagePart, TextPart
    from model.families import get_family
    from model.marks import estimate_tokens
    from model.tokens import glm_image_tokens

    rows = []
    obs = runner.observe(fresh=True)
    for fam, mode in CASES:
        family = get_family(fam)
        runner.modeler._last = None  # each case pays for its own snapshot, as a step does
        t = time.perf_counter()
        view = build_view(runner, obs, mode=mode)
        build = (time.perf_counter() - t) * 1000
        if save and mode == "som" and fam == CASES[0][0]:
            Path(save, f"som-{obs.image.width}x{obs.image.height}-{pages.replace(' ', '-')}.png").write_bytes(
                view.image.data)
        msgs = family.build_messages(GOAL, view.image, [], elements=view.elements)
        parts = [p for m in msgs for p in m.content]
        img = sum(glm_image_tokens(p.width, p.height) for p in parts if isinstance(p, ImagePart))
        txt = sum(estimate_tokens(p.text) for p in parts if isinstance(p, TextPart))
        rows.append({"page": pages, "family": fam, "mode": mode, "image": img, "text": txt,
                     "listed": len(view.elements.marks) if view.elements else 0, "build_ms": build,
                     "size": f"{obs.image.width}x{obs.image.height}"})
    return rows


def child(size: tuple[int, int], save: str | None) -> list[dict]:
    from agent.desktop import VirtualDesktop
    from agent.desktop.a11y_bus import AccessibilityBus, apply_env

    desk = VirtualDesktop(size)
    desk.start()
    os.environ["DISPLAY"] = desk.display
    bus = AccessibilityBus(desk.display)
    bus.start()
    env = dict(desk.env)
    apply_env(bus.env, env)
    apply_env(bus.env, os.environ)
    import pyautogui

    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no
    from agent.elements.snapshot import ElementModeler
    from agent.screen import Screen
    from agent.steps import StepRunner
    from tasks.apps.web.launch import start_site

    pyautogui.PAUSE = 0.02
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        site = start_site(Path(tmp) / "site", today="2026-12-01", geometry=f"{size[0] - 60}x{size[1] - 50}+30+25",
                          env=env)
        try:
            with Screen(desk.display) as screen:
                ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=100), confirmer=always_no)
                runner = StepRunner(ex, screen, None, model_size=size, elements=ElementModeler.auto(desk.display))

                def el(role: str, name: str | None = None, start: str | None = None):
                    deadline = time.monotonic() + 20
                    while True:
                        m = runner.elements(fresh=True)
                        for e in m.interactive():
                            if e.role == role and (name is None or e.name == name) and \
                                    (start is None or (e.row or "").startswith(start)):
                                return e
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"no {role} {name!r} on the page")
                        time.sleep(0.1)

                def click(e) -> None:
                    pyautogui.click(*e.center)

                rows += measure(runner, "search form", save)
                click(el("button", "Select a date"))
                el("toggle", "Tuesday 15 December 2026")
                rows += measure(runner, "calendar open", save)
                click(el("toggle", "Tuesday 15 December 2026"))
                for field, text, option in (("From", "Ber", "Berlin Hbf"), ("To", "Mun", "Munich Hbf")):
                    click(el("combobox", field))
                    pyautogui.write(text)
                    click(el("listitem", option))
                click(el("button", "Search trains"))
                el("button", "Select", start="11:00")
                rows += measure(runner, "results table", save)
                click(el("button", "Select", start="11:00"))
                el("entry", "Full name")
                rows += measure(runner, "details form", save)
        finally:
            site.stop()
            bus.stop()
            desk.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1280x800,1920x1080")
    ap.add_argument("--save", help="write the Set-of-Mark screenshots into this folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        w, h = (int(v) for v in args.child.split("x"))
        print(json.dumps(child((w, h), args.save)))
        return
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", size, *(["--save", str(Path(args.save).resolve())]
                                                                           if args.save else [])],
                             capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode != 0:
            sys.exit(f"{size}: the measurement failed:\n{out.stderr[-3000:]}")
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\nscreen {size} (screenshot sent at {rows[0]['size']}): first-step prompt, tokens")
        print(f"{'page':<15} {'family':<8} {'mode':<20} {'listed':>6} {'image':>6} {'text':>6} {'total':>6} "
              f"{'ratio':>6} {'build ms':>8}")
        base = {r["page"]: r["image"] + r["text"] for r in rows if (r["family"], r["mode"]) == CASES[0]}
        for r in rows:
            total = r["image"] + r["text"]
            print(f"{r['page']:<15} {r['family']:<8} {r['mode']:<20} {r['listed']:>6} {r['image']:>6} {r['text']:>6} "
                  f"{total:>6} {total / base[r['page']]:>6.2f} {r['build_ms']:>8.0f}")


if __name__ == "__main__":
    main()
