"""Evaluation throughput: tasks per minute with K = 1 and K = 2 workers on this machine.

Each task runs in its own process on its own Xvfb (``tasks.harness``), so K workers should scale
until the CPU is saturated; the ratio printed is the speed-up of K = 2 over K = 1. Runs the bundled
suite with the oracle policy (app-geometry grounding, so the figure is the harness, the apps and the
executor, not the OCR).

    python bench/eval_throughput.py [--suite bundled] [--seeds 1] [--grounding app]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.harness import EvalConfig, run_eval, summarize  # noqa: E402
from tasks.spec import select  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="bundled")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--grounding", default="app", choices=["app", "ocr", "ocr-strict"])
    args = ap.parse_args()
    specs = select(args.suite)
    rates = {}
    for k in (1, 2):
        with tempfile.TemporaryDirectory(prefix=f"bench-eval-k{k}-") as tmp:
            t = time.monotonic()
            res = run_eval(specs, Path(tmp), EvalConfig(workers=k, seeds=args.seeds, grounding=args.grounding))
            wall = time.monotonic() - t
        s = summarize(res, wall)["total"]
        rates[k] = s["tasks_per_minute"]
        print(f"K={k}: {s['runs']} tasks in {wall:.1f} s = {rates[k]:.1f} tasks/min, success {s['success_rate']:.0%}, "
              f"{s['time_per_step_s']:.3f} s/step, harness errors {s['errors']}")
    print(f"speed-up K=2 / K=1: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
