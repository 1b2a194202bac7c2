"""``agent record`` with a deliberately slow labeller, for the crash and drain tests: the real
``Recorder`` on ``$DISPLAY``, its labeller a picklable factory run in the labeller process (as OCR is)
that takes ``--delay`` seconds a call and notes each call in ``--calls``.

    python -m tests.slow_label_recorder OUT --delay 3 --calls /tmp/calls.txt [--drain 4]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time


class SlowLabeller:
    """Labels every step ``slow-KIND`` after ``delay`` seconds; appends ``pid kind`` to ``calls``."""

    def __init__(self, delay: float, calls: str) -> None:
        self.delay, self.calls = delay, calls

    def __call__(self, frame, point, kind, window) -> dict:  # noqa: ANN001
        with open(self.calls, "a") as f:
            f.write(f"{os.getpid()} {kind}\n")
        time.sleep(self.delay)
        return {"label": f"slow-{kind}"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--delay", type=float, default=3.0)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--drain", type=float, default=15.0)
    args = ap.parse_args()
    from agent.record.recorder import Recorder
    from agent.screen import Screen
    from tests.slow_label_recorder import SlowLabeller  # by its module name: the labeller process imports it

    with Screen() as screen:
        rec = Recorder(args.out, screen=screen, labeller_factory=functools.partial(SlowLabeller, args.delay, args.calls),
                       drain_s=args.drain, on_step=lambda i, s: print(f"step {i} {s['action']['type']}", flush=True),
                       on_note=lambda text: print(f"note: {text}", file=sys.stderr, flush=True))
        n = rec.run(ready=lambda: print("recording to", args.out, flush=True))
    print(f"recorded {n} steps; stopped by {rec.stopped_by}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
