"""Agent-loop overhead per step without model time, and GLM-4.5V image tokens per step.

The real loop (``agent.loop.run_episode``: prompt building with the GLM-4.5V family, screenshot
encoding, parsing, the safe executor, the settle wait, the trajectory) runs on Xvfb against a real
Tk window, with a scripted model that answers instantly, so everything measured is desk-agent's own
cost. Image tokens are what GLM-4.5V's processor makes of what we send: the current screenshot at
the chosen downscale plus up to 4 history screenshots at half size (the official GUI-agent example).

    python bench/loop_overhead.py [--steps 20] [--max-size 1280x800]
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
sys.path.insert(0, str(ROOT))


def child(steps: int, max_size: tuple[int, int]) -> dict:
    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no
    from agent.loop import LoopConfig, run_episode
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter
    from tasks.apps.widgets import launch
    from model.base import ImagePart, ScriptedModel
    from model.family import get_family
    from model.tokens import glm_image_tokens

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "w.json"
        app, layout = launch(state, cwd=ROOT)
        box = layout["widgets"]["checkbox"]
        try:
            with Screen() as screen:
                sw, sh = screen.size()
                nx = round((box[0] + 15) / sw * 1000)
                ny = round((box[1] + box[3] / 2) / sh * 1000)
                click = f"<|begin_of_box|>left_click(start_box='[{nx},{ny}]', element_info='Subscribe')<|end_of_box|>"
                model = ScriptedModel([f"Toggle it.\n{click}\nMemory:\n[]"] * steps + ["DONE()"])
                ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=steps + 5), confirmer=always_no)
                rows: list[dict] = []
                with TrajectoryWriter(Path(tmp) / "traj", kind="bench") as writer:
                    runner = StepRunner(ex, screen, writer, model_size=max_size)
                    t = time.monotonic()
                    res = run_episode("toggle the checkbox", model=model, family=get_family("glm45v"), runner=runner,
                                      config=LoopConfig(max_steps=steps + 2),
                                      on_step=lambda ev: rows.append(dict(ev.timings)))
                    wall = time.monotonic() - t
                shot = runner.observe().image
            cur = glm_image_tokens(*shot.size)
            half = ImagePart.from_image(shot.resize((shot.width // 2, shot.height // 2)))
            hist = glm_image_tokens(half.width, half.height)
            return {"screen": [sw, sh], "sent": list(shot.size), "status": res.status, "rows": rows[:-1],
                    "wall_s": wall, "steps": res.steps, "tokens_current": cur, "tokens_history_each": hist}
        finally:
            app.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--max-size", default="1280x800")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    from agent.desktop import VirtualDesktop, parse_size

    limit = parse_size(args.max_size)
    if args.child:
        print(json.dumps(child(args.steps, limit)))
        return
    print(f"desk-agent loop overhead without model time: {args.steps} steps per screen on Xvfb, "
          f"screenshots downscaled to fit {limit[0]}x{limit[1]}, GLM-4.5V prompt and parser, instant scripted model")
    print(f"{'screen':>10} {'sent':>9} {'prompt':>8} {'parse+exec':>11} {'settle':>8} {'overhead':>9} "
          f"{'img tok now':>11} {'+4 history':>10} {'tok/step':>8}")
    from model.tokens import glm_image_tokens

    savings: list[str] = []
    for size in ("1280x800", "1920x1080"):
        with VirtualDesktop(parse_size(size)) as desk:
            out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps),
                                  "--max-size", args.max_size], env={**desk.env, "PYTHONPATH": str(ROOT)},
                                 capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(f"child for {size} failed:\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows = r["rows"]

        def med(k: str) -> float:
            return statistics.median(x.get(k, 0.0) for x in rows) * 1e3

        other = med("execute_s") + med("encode_s")
        overhead = statistics.median(sum(v for k, v in x.items() if k != "model_s") for x in rows) * 1e3
        per_step = r["tokens_current"] + 4 * r["tokens_history_each"]
        sw, sh = r["screen"]
        native = glm_image_tokens(sw, sh) + 4 * glm_image_tokens(sw // 2, sh // 2)
        savings.append(f"{size}: {native} tokens/step at native size, {per_step} sent ({native / per_step:.2f}x fewer)")
        print(f"{size:>10} {r['sent'][0]:>4}x{r['sent'][1]:<4} {med('prompt_s'):>6.1f}ms {other:>9.1f}ms "
              f"{med('settle_s'):>6.1f}ms {overhead:>7.1f}ms {r['tokens_current']:>11} "
              f"{4 * r['tokens_history_each']:>10} {per_step:>8}   ({r['status']}, {r['steps']} steps)")
    for line in savings:
        print(line)
    print("overhead = prompt building (screenshot encode + history) + trajectory encode + execute + settle; "
          "settle waits until the screen was unchanged for 150 ms.")


if __name__ == "__main__":
    main()
