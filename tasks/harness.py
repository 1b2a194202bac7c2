"""The evaluation harness behind ``agent eval``: K task processes at a time, results as they finish.

Each (task, seed) runs in its own ``python -m tasks.worker`` process on its own fresh Xvfb (see
``tasks.worker`` for why), so tasks never share a screen, an app or a pyautogui binding, and a task
that hangs is killed at its time limit without taking the others down. Results are appended to
``results.jsonl`` as each task ends (a run cut short keeps what finished), then summarised
(success rate, steps, time per step, model tokens, safety stops) and rendered to ``report.html``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.spec import TaskSpec

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class EvalConfig:
    policy: str = "oracle"
    grounding: str = "app"
    approve: bool = True
    seeds: int = 1
    first_seed: int = 0
    workers: int = 1
    task_timeout: float = 240.0
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the workers (model settings)


def plan(specs: list[TaskSpec], cfg: EvalConfig) -> list[tuple[TaskSpec, int]]:
    return [(s, seed) for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds) for s in specs]


def run_one(spec: TaskSpec, seed: int, out: Path, cfg: EvalConfig) -> dict:
    """One worker process; a crash or a timeout becomes an ``error`` result, never a lost row."""
    folder = out / "tasks" / f"{spec.id}-s{seed}"
    argv = [sys.executable, "-m", "tasks.worker", "--task", spec.id, "--seed", str(seed), "--out", str(folder),
            "--policy", cfg.policy, "--grounding", cfg.grounding, "--max-seconds", str(cfg.task_timeout - 20)]
    if not cfg.approve:
        argv.append("--no-approve")
    env = {**os.environ, **cfg.env}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    t = time.monotonic()
    base = {"task": spec.id, "seed": seed, "key": f"{spec.id}-s{seed}", "app": spec.app, "policy": cfg.policy,
            "expect": spec.expect, "tags": list(spec.tags), "success": False, "ending": "error",
            "trajectory": str(folder / "trajectory")}
    try:
        p = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                           timeout=cfg.task_timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return base | {"error": f"timed out after {cfg.task_timeout:g} s", "elapsed_s": round(time.monotonic() - t, 3)}
    try:
        return json.loads((folder / "result.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return base | {"error": f"worker exited {p.returncode}: {(p.stderr or p.stdout)[-1500:]}",
                       "elapsed_s": round(time.monotonic() - t, 3)}


def run_eval(specs: list[TaskSpec], out: Path, cfg: EvalConfig,
             on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Run the plan ``cfg.workers`` at a time; append each result to ``out/results.jsonl`` as it ends."""
    out.mkdir(parents=True, exist_ok=True)
    todo = plan(specs, cfg)
    results: list[dict] = []
    lock = threading.Lock()
    jsonl = out / "results.jsonl"
    jsonl.write_text("")
    with ThreadPoolExecutor(max_workers=max(1, cfg.workers)) as pool:
        futures = [pool.submit(run_one, s, seed, out, cfg) for s, seed in todo]
        for fut in as_completed(futures):
            r = fut.result()
            with lock:
                results.append(r)
                with jsonl.open("a") as f:
                    f.write(json.dumps(r) + "\n")
            if on_result:
                on_result(r)
    order = {(s.id, seed): i for i, (s, seed) in enumerate(todo)}
    results.sort(key=lambda r: order.get((r["task"], r["seed"]), 0))
    return results


def summarize(results: list[dict], wall_s: float | None = None) -> dict[str, Any]:
    """Totals and per-task rows for the table and the HTML page."""
    def agg(rows: list[dict]) -> dict[str, Any]:
        n = len(rows)
        steps = sum(r.get("steps") or 0 for r in rows)
        episode = sum(r.get("episode_s") or 0 for r in rows)
        return {"runs": n, "successes": sum(1 for r in rows if r.get("success")),
                "success_rate": (sum(1 for r in rows if r.get("success")) / n) if n else 0.0,
                "mean_steps": steps / n if n else 0.0,
                "time_per_step_s": episode / steps if steps else None,
                "tokens": sum(r.get("tokens") or 0 for r in rows),
                "safety_stops": sum(r.get("safety_stops") or 0 for r in rows),
                "errors": sum(1 for r in rows if r.get("ending") == "error")}

    by_task: dict[str, list[dict]] = {}
    for r in results:
        by_task.setdefault(r["task"], []).append(r)
    total = agg(results)
    if wall_s is not None:
        total["wall_s"] = round(wall_s, 2)
        total["tasks_per_minute"] = round(len(results) / wall_s * 60, 2) if wall_s > 0 else None
    return {"total": total, "tasks": {k: agg(v) for k, v in by_task.items()}}


def write_summary(out: Path, summary: dict, cfg: EvalConfig, suite: str) -> Path:
    path = out / "summary.json"
    path.write_text(json.dumps({"suite": suite, "policy": cfg.policy, "grounding": cfg.grounding,
                                "seeds": cfg.seeds, "workers": cfg.workers, **summary}, indent=1))
    return path
