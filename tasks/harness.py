"""The evaluation harness behind ``agent eval``: K task processes at a time, results as they finish.

Each (task, seed) runs in its own ``python -m tasks.worker`` process on its own fresh Xvfb (see
``tasks.worker`` for why), so tasks never share a screen, an app or a pyautogui binding, and a task
that hangs is killed at its time limit without taking the others down. Results are appended to
``results.jsonl`` as each task ends (a run cut short keeps what finished), then summarised
(success rate, steps, time per step, model tokens, safety stops) and rendered to ``report.html``.

Stopping: each worker is the leader of its own process group, and its Xvfb and app stay in that
group, so one ``killpg`` ends a task with everything it started (a task at its time limit, or all
of them when ``agent eval`` gets Ctrl-C / SIGTERM). A ``StopRequest`` set from a signal handler
stops the scheduling at once: tasks in flight are killed and recorded as ``interrupted``, queued
ones as ``not_run``; the summary leaves both out of the rates and lists them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.spec import TaskSpec

ROOT = Path(__file__).resolve().parent.parent
NOT_SCORED = ("interrupted", "not_run")  # endings of an interrupted eval: no score either way
POLL_S = 0.05
TERM_GRACE_S = 0.5  # SIGTERM to a task's group, then SIGKILL after this


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
    view: bool = False  # each task's desktop served to a browser (``agent eval --view``)


def plan(specs: list[TaskSpec], cfg: EvalConfig) -> list[tuple[TaskSpec, int]]:
    return [(s, seed) for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds) for s in specs]


class StopRequest:
    """Set (from a signal handler, say) to stop an eval; the harness polls it between 50 ms waits."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str = "stop requested") -> None:
        self.reason = self.reason or reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


@dataclass
class _Running:
    spec: TaskSpec
    seed: int
    folder: Path
    proc: subprocess.Popen
    log: Path
    started: float
    announced: bool = False  # its live view's URL was passed on

    @property
    def key(self) -> str:
        return f"{self.spec.id}-s{self.seed}"

    def base(self, cfg: EvalConfig) -> dict:
        return {"task": self.spec.id, "seed": self.seed, "key": f"{self.spec.id}-s{self.seed}", "app": self.spec.app,
                "policy": cfg.policy, "expect": self.spec.expect, "tags": list(self.spec.tags), "success": False,
                "ending": "error", "trajectory": str(self.folder / "trajectory")}

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)


def _start(spec: TaskSpec, seed: int, out: Path, cfg: EvalConfig) -> _Running:
    folder = out / "tasks" / f"{spec.id}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tasks.worker", "--task", spec.id, "--seed", str(seed), "--out", str(folder),
            "--policy", cfg.policy, "--grounding", cfg.grounding, "--max-seconds", str(cfg.task_timeout - 20)]
    if not cfg.approve:
        argv.append("--no-approve")
    if cfg.view:
        argv.append("--view")
    env = {**os.environ, **cfg.env}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = folder / "worker.log"
    with log.open("wb") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL, cwd=ROOT,
                                start_new_session=True)  # its own group: one killpg ends it, its Xvfb and app
    return _Running(spec, seed, folder, proc, log, time.monotonic())


def _view_url(r: _Running) -> str | None:
    from tasks.worker import VIEW_FILE

    try:
        return (r.folder / VIEW_FILE).read_text().strip() or None
    except OSError:
        return None


def kill_group(proc: subprocess.Popen, grace: float = TERM_GRACE_S) -> None:
    """SIGTERM the process group led by ``proc``, SIGKILL whatever of it is left after ``grace``
    seconds (the worker, its Xvfb, its app), and reap ``proc``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already
        try:
            proc.wait(timeout=grace if sig == signal.SIGTERM else 5.0)
        except subprocess.TimeoutExpired:
            pass


def _collect(r: _Running, cfg: EvalConfig) -> dict:
    """The finished worker's result; a crash becomes an ``error`` result, never a lost row."""
    try:
        return json.loads((r.folder / "result.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        try:
            tail = r.log.read_text(errors="replace")[-1500:]
        except OSError:
            tail = ""
        return r.base(cfg) | {"error": f"worker exited {r.proc.returncode}: {tail}", "elapsed_s": r.elapsed()}


def run_eval(specs: list[TaskSpec], out: Path, cfg: EvalConfig,
             on_result: Callable[[dict], None] | None = None, stop: StopRequest | None = None,
             on_view: Callable[[str, str], None] | None = None) -> list[dict]:
    """Run the plan ``cfg.workers`` at a time; append each result to ``out/results.jsonl`` as it ends.

    When ``stop`` is set, nothing more starts, the tasks in flight are killed (with their groups) and
    recorded ``interrupted``, the queued ones ``not_run``; the list then holds every planned task.
    With ``cfg.view``, ``on_view(task key, url)`` is called once each task's live view is up."""
    out.mkdir(parents=True, exist_ok=True)
    todo = plan(specs, cfg)
    queue = deque(todo)
    results: list[dict] = []
    running: list[_Running] = []
    jsonl = out / "results.jsonl"
    jsonl.write_text("")

    def done(r: dict) -> None:
        results.append(r)
        with jsonl.open("a") as f:
            f.write(json.dumps(r) + "\n")
        if on_result:
            on_result(r)

    try:
        while queue or running:
            if stop is not None and stop.is_set():
                break
            while queue and len(running) < max(1, cfg.workers):
                running.append(_start(*queue.popleft(), out, cfg))
            for r in list(running):
                if on_view is not None and cfg.view and not r.announced:
                    url = _view_url(r)
                    if url:
                        r.announced = True
                        on_view(r.key, url)
                if r.proc.poll() is not None:
                    running.remove(r)
                    kill_group(r.proc, grace=0)
                    done(_collect(r, cfg))
                elif time.monotonic() - r.started > cfg.task_timeout:
                    running.remove(r)
                    kill_group(r.proc)
                    done(r.base(cfg) | {"error": f"timed out after {cfg.task_timeout:g} s", "elapsed_s": r.elapsed()})
            if stop is not None:
                stop.wait(POLL_S)
            else:
                time.sleep(POLL_S)
    finally:
        for r in running:  # an exception or a stop: nothing may outlive the eval
            kill_group(r.proc, grace=0.3)
    if stop is not None and stop.is_set():
        why = stop.reason or "stop requested"
        for r in running:
            done(r.base(cfg) | {"ending": "interrupted", "error": f"interrupted ({why}) while running",
                                "elapsed_s": r.elapsed()})
        for s, seed in queue:
            done({"task": s.id, "seed": seed, "key": f"{s.id}-s{seed}", "app": s.app, "policy": cfg.policy,
                  "expect": s.expect, "tags": list(s.tags), "success": False, "ending": "not_run",
                  "error": f"not run: the eval was interrupted ({why})"})
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

    scored = [r for r in results if r.get("ending") not in NOT_SCORED]
    by_task: dict[str, list[dict]] = {}
    for r in scored:
        by_task.setdefault(r["task"], []).append(r)
    total = agg(scored)
    if wall_s is not None:
        total["wall_s"] = round(wall_s, 2)
        total["tasks_per_minute"] = round(len(scored) / wall_s * 60, 2) if wall_s > 0 else None
    summary: dict[str, Any] = {"total": total, "tasks": {k: agg(v) for k, v in by_task.items()}}
    cut = [r["key"] for r in results if r.get("ending") == "interrupted"]
    never = [r["key"] for r in results if r.get("ending") == "not_run"]
    if cut or never:
        summary["interrupted"] = {"planned": len(results), "finished": len(scored), "cut_short": cut,
                                  "never_ran": never}
    return summary


def write_summary(out: Path, summary: dict, cfg: EvalConfig, suite: str, interrupted: str | None = None) -> Path:
    """``summary.json``; ``interrupted`` (the signal's name) marks a run that was cut short."""
    if interrupted:
        summary = {**summary, "interrupted": {"by": interrupted, **summary.get("interrupted", {})}}
    path = out / "summary.json"
    path.write_text(json.dumps({"suite": suite, "policy": cfg.policy, "grounding": cfg.grounding,
                                "seeds": cfg.seeds, "workers": cfg.workers, **summary}, indent=1))
    return path
