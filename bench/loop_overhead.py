"""Agent-loop overhead per step without model time, against the loop before the speed work, in one run.

The real loop (``agent.loop.run_episode``: the screenshot encoded for the model, GLM-4.5V prompt building
with its 4 half-size history screenshots, parsing, the safe executor, the settle wait, the trajectory,
stagnation) runs on Xvfb against a screen-filling Tk "web page" (``bench/page_app.py``: text, lines and
colours everywhere, as a real screen is; every step clicks "Next page", which redraws the table), with a
scripted model that answers instantly, so everything measured is desk-agent's own cost.

"Before" is the same scenario run by the code of ``--baseline`` (default ``6fb61a0``, the last commit
before issue 13's speed work), checked out into a temporary git worktree; both run alternately on the
same virtual screen, so the ratios compare like with like on a noisy machine. Per step:

* prompt   -- encoding the screenshot and building the GLM-4.5V messages (the loop's ``prompt_s``);
* settle   -- the wait after the action until the screen is still (``settle_s``);
* prepare  -- then, the wait for the next screenshot's downscale and encoding, which ran on the image
              thread while the screen settled (``prepare_s``; the code before did it in "prompt");
* after    -- how long after the last change the settle ended (from the capture before the one that
              showed the final picture: an upper bound; the new settle reports it, the old does not);
* overhead -- wall time from one step to the next minus model time: everything the loop does;
* cpu      -- CPU time the agent's process used per step (all threads): what a busy machine multiplies.

    python bench/loop_overhead.py [--steps 20] [--rounds 2] [--max-size 1280x800] [--baseline REF|none]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "6fb61a0"
SIZES = ("1280x800", "1920x1080")


def child(root: Path, steps: int, max_size: tuple[int, int]) -> dict:
    """Run the loop with the code under ``root``; returns per-step figures (JSON)."""
    sys.path.insert(0, str(root))
    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no
    from agent.loop import LoopConfig, run_episode
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter
    from model.base import ScriptedModel
    try:
        from model.families import get_family
    except ImportError:  # the baseline commit kept the registry in model/family.py
        from model.family import get_family
    from model.tokens import glm_image_tokens
    from tasks.apps.state import read_state

    class Probe(StepRunner):
        outcomes: list = []

        def act(self, *a, **kw):  # noqa: ANN002, ANN003
            o = super().act(*a, **kw)
            self.outcomes.append(o)
            return o

    with tempfile.TemporaryDirectory() as tmp, Screen() as screen:
        sw, sh = screen.size()
        state = Path(tmp) / "page.json"
        app = subprocess.Popen([sys.executable, str(ROOT / "bench" / "page_app.py"), "--state", str(state),
                                "--size", f"{sw}x{sh}"])
        try:
            bx, by, bw, bh = read_state(state, lambda s: s["button"][2] > 1)["button"]
            nx, ny = round((bx + bw / 2) / sw * 1000), round((by + bh / 2) / sh * 1000)
            click = f"<|begin_of_box|>left_click(start_box='[{nx},{ny}]', element_info='Next page')<|end_of_box|>"
            model = ScriptedModel([f"Show the next page.\n{click}\nMemory:\n[]"] * steps + ["DONE()"])
            ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=steps + 5), confirmer=always_no)
            marks: list[tuple[float, float]] = []
            rows: list[dict] = []

            def on_step(ev) -> None:  # noqa: ANN001
                marks.append((time.monotonic(), time.process_time()))
                rows.append(dict(ev.timings))

            with TrajectoryWriter(Path(tmp) / "traj", kind="bench") as writer:
                runner = Probe(ex, screen, writer, model_size=max_size)
                res = run_episode("page through the departures", model=model, family=get_family("glm45v"),
                                  runner=runner, config=LoopConfig(max_steps=steps + 2), on_step=on_step)
            pages = json.loads(state.read_text())["page"]
            shot = runner.observe().image
        finally:
            app.kill()
    for i in range(1, len(rows)):  # the first step also pays for the first observation
        rows[i]["overhead_s"] = marks[i][0] - marks[i - 1][0] - rows[i].get("model_s", 0.0)
        rows[i]["cpu_s"] = marks[i][1] - marks[i - 1][1]  # this process, all its threads
    settles = [getattr(o, "settle", None) for o in runner.outcomes]
    after = [s.quiet_s for s in settles if s is not None and s.quiet_s is not None]
    half = glm_image_tokens(shot.width // 2, shot.height // 2)
    return {"screen": [sw, sh], "sent": list(shot.size), "status": res.status, "steps": res.steps, "pages": pages,
            "rows": rows[1:-1], "after_change_s": after, "tokens_current": glm_image_tokens(*shot.size),
            "tokens_history_each": half, "tokens_native": glm_image_tokens(sw, sh) + 4 * glm_image_tokens(sw // 2, sh // 2)}


def baseline_tree(ref: str, into: Path) -> Path | None:
    """A temporary git worktree of ``ref`` (the code before), or None (said why) when it cannot be made."""
    where = into / "baseline"
    out = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), ref],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"(no baseline: git worktree add {ref} failed: {out.stderr.strip()[-300:]})")
        return None
    return where


def run_child(root: Path, env: dict, steps: int, max_size: str) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(root), "--steps", str(steps), "--max-size", max_size],
                         env={**env, "PYTHONPATH": str(root)}, capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        raise SystemExit(f"child ({root}) failed:\n{out.stderr[-3000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["status"] != "done" or r["pages"] != r["steps"] - 1:
        raise SystemExit(f"child ({root}) did not page through: {r['status']}, {r['pages']} pages, {r['steps']} steps")
    return r


def med(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) * 1e3 if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2, help="alternate before/now this many times per screen size")
    ap.add_argument("--max-size", default="1280x800")
    ap.add_argument("--baseline", default=BASELINE, help="git ref of the code to compare with, or 'none'")
    ap.add_argument("--child")
    args = ap.parse_args()
    from agent.desktop import VirtualDesktop, parse_size

    if args.child:
        print(json.dumps(child(Path(args.child), args.steps, parse_size(args.max_size))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = None if args.baseline == "none" else baseline_tree(args.baseline, Path(tmp))
        try:
            variants = ([("before", base)] if base else []) + [("now", ROOT)]
            print(f"desk-agent loop overhead without model time: {args.steps} steps x {args.rounds} rounds per screen "
                  f"on Xvfb, a screen-filling page, screenshots downscaled to fit {args.max_size}, GLM-4.5V prompt "
                  f"and parser, instant scripted model; before = {args.baseline if base else '(none)'}")
            print(f"{'screen':>10} {'code':>7} {'prompt':>8} {'settle':>8} {'prepare':>8} {'after':>7} {'overhead':>9} "
                  f"{'p90':>7} {'cpu':>7} {'img tok':>8} {'+4 hist':>8}")
            tokens = []
            for size in SIZES:
                res: dict[str, list[dict]] = {name: [] for name, _ in variants}
                with VirtualDesktop(parse_size(size)) as desk:
                    for _ in range(args.rounds):
                        for name, root in variants:
                            res[name].append(run_child(root, desk.env, args.steps, args.max_size))
                figs = {}
                for name, _ in variants:
                    rows = [row for r in res[name] for row in r["rows"]]
                    after = [a for r in res[name] for a in r["after_change_s"]]
                    over = sorted(r["overhead_s"] for r in rows)
                    figs[name] = {"prompt": med(rows, "prompt_s"), "settle": med(rows, "settle_s"),
                                  "prepare": med(rows, "prepare_s"),
                                  "after": statistics.median(after) * 1e3 if after else None,
                                  "overhead": statistics.median(over) * 1e3, "p90": over[int(0.9 * (len(over) - 1))] * 1e3,
                                  "cpu": med(rows, "cpu_s")}
                    r = res[name][-1]
                    f = figs[name]
                    print(f"{size:>10} {name:>7} {f['prompt']:>6.1f}ms {f['settle']:>6.1f}ms "
                          + (f"{f['prepare']:>6.1f}ms " if f["prepare"] is not None else f"{'-':>8} ")
                          + (f"{f['after']:>5.1f}ms" if f["after"] is not None else f"{'-':>7}")
                          + f" {f['overhead']:>7.1f}ms {f['p90']:>5.0f}ms {f['cpu']:>5.0f}ms {r['tokens_current']:>8} "
                          f"{4 * r['tokens_history_each']:>8}")
                if "before" in figs:
                    b, n = figs["before"], figs["now"]
                    print(f"{size:>10} {'ratio':>7} {b['prompt'] / n['prompt']:>7.1f}x {b['settle'] / n['settle']:>7.1f}x "
                          f"{'':>8} {'':>7} {b['overhead'] / n['overhead']:>8.1f}x {b['p90'] / n['p90']:>6.1f}x "
                          f"{b['cpu'] / n['cpu']:>6.1f}x   (before / now)")
                r = res["now"][-1]
                per_step = r["tokens_current"] + 4 * r["tokens_history_each"]
                tokens.append(f"{size}: {r['tokens_native']} image tokens/step at native size, {per_step} sent "
                              f"({r['tokens_native'] / per_step:.2f}x fewer)")
            for line in tokens:
                print(line)
        finally:
            if base is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                               capture_output=True)


if __name__ == "__main__":
    main()
