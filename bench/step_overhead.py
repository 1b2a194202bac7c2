"""Per-step overhead of desk-agent (capture + encode + execute + settle) against a fixed 2 s sleep.

Common agents sleep a fixed 2 s after every action before the next screenshot. desk-agent waits
until the screen stopped changing instead (``agent.screen.settle``: the first change after the action,
then ~40 ms without a real one). This benchmark runs real steps on Xvfb (a Tk window, real pyautogui
clicks that toggle a checkbox, so the screen really changes every step) at 1280x800 and 1920x1080, and
prints each phase's median and the ratio of the fixed sleep to our per-step overhead, all measured in
one run. ``bench/loop_overhead.py`` measures the whole agent loop against the code before.

    python bench/step_overhead.py [--steps 20]

pyautogui binds the display at import, so each screen size runs in its own child process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXED_SLEEP_S = 2.0


def child(size: str, steps: int, fmt: str) -> dict:
    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no
    from actions.space import Click
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter
    from tasks.apps.widgets import launch

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "w.json"
        app, layout = launch(state, cwd=ROOT)
        box = layout["widgets"]["checkbox"]
        try:
            ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=steps + 10), confirmer=always_no)
            rows = []
            with Screen() as screen, TrajectoryWriter(Path(tmp) / "traj", kind="bench") as writer:
                runner = StepRunner(ex, screen, writer, model_size=None, image_format=fmt)
                runner.observe()
                for _ in range(steps):
                    t = time.monotonic()
                    o = runner.act(Click(box[0] + 15, box[1] + box[3] / 2))
                    rows.append({**o.timings, "total_s": time.monotonic() - t, "settled": o.observation.settled})
            # capture_s of a step is ~0: the previous settle's frame is reused; the first observe is not counted
            return {"size": size, "format": fmt, "rows": rows}
        finally:
            app.kill()


def run_size(size: str, steps: int, fmt: str) -> dict:
    from agent.desktop import VirtualDesktop, parse_size

    with VirtualDesktop(parse_size(size)) as desk:
        out = subprocess.run([sys.executable, __file__, "--child", size, "--steps", str(steps), "--format", fmt],
                             env={**desk.env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(f"child for {size} failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r.get(key, 0.0) for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--format", default="png", choices=["png", "jpeg"])
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.format)))
        return
    print(f"desk-agent per-step overhead, {args.steps} real steps per size on Xvfb, {args.format} screenshots "
          f"({os.cpu_count()} cores)")
    print(f"{'screen':>10} {'capture':>9} {'encode':>9} {'execute':>9} {'settle':>9} {'prepare':>9} {'total':>9} "
          f"{'settled':>8} {'2 s sleep / ours':>17}")
    for size in ("1280x800", "1920x1080"):
        rows = run_size(size, args.steps, args.format)["rows"]
        total = med(rows, "total_s")
        settled = sum(r["settled"] for r in rows)
        print(f"{size:>10} {med(rows, 'capture_s') * 1e3:>7.1f}ms {med(rows, 'encode_s') * 1e3:>7.1f}ms "
              f"{med(rows, 'execute_s') * 1e3:>7.1f}ms {med(rows, 'settle_s') * 1e3:>7.1f}ms "
              f"{med(rows, 'prepare_s') * 1e3:>7.1f}ms "
              f"{total * 1e3:>7.1f}ms {settled:>5}/{len(rows)} {FIXED_SLEEP_S / total:>16.1f}x")
    print("capture is the observation reused from the previous step's settle wait; settle waits for the "
          "click's first change, then until ~40 ms passed without a real one; prepare waits for the screenshot's "
          "encoding, which ran while the screen settled; encode writes it to the trajectory.")


if __name__ == "__main__":
    main()
