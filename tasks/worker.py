"""Run ONE task instance on its own fresh virtual desktop, in this process, and write its result.

    python -m tasks.worker --task booking.book_ticket --seed 3 --out runs/eval/x --policy oracle

Why a process per task: pyautogui (and so the executor's backend) binds ``$DISPLAY`` when it is first
imported, so a process can only ever drive one display. The harness (``tasks.harness``) starts K of
these at a time; each starts its own Xvfb here, sets ``DISPLAY`` *before* importing anything that
touches input, starts the task's app, runs the policy, evaluates the real final state, tears
everything down and writes ``result.json`` (also printed as the last stdout line).

Endings: ``done`` / ``fail`` (the policy's own), ``stopped`` (a safety stop: a risky action not
approved, a cap), ``error`` (the harness or an oracle script broke: a bug to fix, never a score),
or the model loop's statuses (``stagnated``, ``max_steps``, ``parse_errors``, ``model_error``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tasks.spec import TaskInstance, load_specs

#: Where a worker started with ``--view`` writes its live view's URL (the harness prints it).
VIEW_FILE = "live-view.url"


def run_instance(inst: TaskInstance, out: Path, *, policy: str = "oracle", grounding: str = "app",
                 approve: bool = True, max_seconds: float = 180.0, size: tuple[int, int] = (1280, 800),
                 view: bool = False) -> dict:
    """Start a desktop, run ``inst`` with ``policy``, evaluate, tear down. Returns the result dict."""
    from agent.desktop import VirtualDesktop

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    result: dict[str, Any] = {"task": inst.spec.id, "seed": inst.seed, "key": inst.key, "app": inst.spec.app,
                              "goal": inst.goal, "policy": policy, "grounding": grounding, "expect": inst.spec.expect,
                              "tags": list(inst.spec.tags), "trajectory": str(out / "trajectory")}
    # Xvfb stays in this worker's process group: the harness ends a task (time limit, Ctrl-C) with one
    # killpg, and nothing of it may outlive that
    with VirtualDesktop(size, own_session=False, accessibility=True) as desk, ExitStack() as stack:
        os.environ["DISPLAY"] = desk.display
        from agent.desktop.a11y_bus import apply_env

        if desk.a11y is not None:  # the task's app publishes its tree to the element model
            stack.callback(apply_env(desk.a11y.env))
        if view:  # agent eval --view: this task's desktop in a browser; the harness prints the URL
            from agent.desktop.liveview import LiveView

            live = stack.enter_context(LiveView(desk.display))
            (out / VIEW_FILE).write_text(live.url)
        try:
            result |= run_on_display(inst, out, policy=policy, grounding=grounding, approve=approve,
                                         max_seconds=max_seconds)
        except Exception as e:  # noqa: BLE001 - a harness failure is reported, never scored as success
            result |= {"ending": "error", "success": False, "error": f"{type(e).__name__}: {e}",
                       "traceback": traceback.format_exc()[-3000:]}
    result["elapsed_s"] = round(time.monotonic() - t0, 3)
    steps = result.get("steps") or 0
    result["time_per_step_s"] = round(result.get("episode_s", 0) / steps, 3) if steps else None
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return result


def run_on_display(inst: TaskInstance, out: Path, *, policy: str = "oracle", grounding: str = "app",
                   approve: bool = True, max_seconds: float = 180.0, on_act=None) -> dict:
    """Set up, run, evaluate and tear down ``inst`` on the display ``$DISPLAY`` points at now (the
    worker's own Xvfb, or the demo's). ``on_act(action, outcome)`` is called after each oracle step."""
    # imported only now: DISPLAY points at this task's own desktop
    from actions.backends import PyAutoGUIBackend
    from actions.errors import SafetyStop
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, TerminalConfirmer
    from agent.elements.probe import LiveScreenProbe
    from agent.elements.snapshot import ElementModeler
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter
    from tasks.checks import evaluate, passed
    from tasks.environment import start_app
    from tasks.oracle import OracleApprover, OracleContext, OracleError, get_solution

    if inst.spec.app == "miniwob":
        from tasks.miniwob import run_miniwob

        return run_miniwob(inst, out, policy=policy, approve=approve, max_seconds=max_seconds)
    app = start_app(inst, out / "app")
    info: dict[str, Any] = {}
    try:
        approver = OracleApprover(allowed=approve) if policy == "oracle" else TerminalConfirmer(assume_yes=approve)
        ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=inst.spec.max_steps + 20, max_seconds=max_seconds),
                      confirmer=approver, probe=LiveScreenProbe())
        with Screen() as screen:
            writer = TrajectoryWriter(out / "trajectory", kind="eval", meta={
                "goal": inst.goal, "task": inst.spec.id, "seed": inst.seed, "policy": policy, "params": inst.params})
            runner = StepRunner(ex, screen, writer, elements=ElementModeler.auto())
            t = time.monotonic()
            ending, answer = "error", None
            try:
                if policy == "oracle":
                    ctx = OracleContext(runner, app, approver, grounding=grounding, grounder=_grounder(grounding))
                    ctx.on_act = on_act
                    try:
                        get_solution(inst.spec.oracle)(ctx, inst.params)
                        ending, answer = ctx.ending or "error", ctx.answer
                    finally:
                        info |= {"fallbacks": ctx.fallbacks, "located": ctx.located[-40:],
                                 "approvals": approver.approvals, "refusals": approver.refusals}
                elif policy == "model":
                    info |= _model_episode(inst, runner)
                    ending, answer = info.pop("status"), info.pop("answer")
                else:
                    raise ValueError(f"unknown policy {policy!r}: use oracle or model")
            except SafetyStop as e:
                ending, info["safety_stop"] = "stopped", str(e) or e.reason
            except OracleError as e:
                ending, info["error"] = "error", f"oracle: {e}"
            episode_s = time.monotonic() - t
            app.wait_state(lambda s: True, 0.2)
            checks = evaluate(inst, app, ending, info)
            ok = passed(checks) and ending != "error"
            status = {"ok": ok, "ending": ending, "checks": [c.to_json() for c in checks]}
            writer.close(status)
        return {"ending": ending, "answer": answer, "success": ok, "trajectory": str(out / "trajectory"), "checks": [c.to_json() for c in checks],
                "steps": ex.steps, "episode_s": round(episode_s, 3),
                "safety_stops": 1 if ending == "stopped" else 0, **info}
    finally:
        app.stop()


def _grounder(grounding: str):
    if grounding == "app":
        return None
    from model.ground_text import OcrGrounder

    return OcrGrounder()


def _model_episode(inst: TaskInstance, runner) -> dict:
    """The model policy: ``agent.loop.run_episode`` with the configured model (AGENT_MODEL_URL ...)."""
    from agent.loop import LoopConfig, run_episode
    from model.base import GenerationConfig
    from model.config import NO_MODEL_HELP, build_model, load_settings
    from model.families import get_family

    settings = load_settings()
    if settings is None:
        raise RuntimeError(NO_MODEL_HELP)
    cfg = LoopConfig(max_steps=inst.spec.max_steps, observe=settings.observe, element_tokens=settings.element_tokens,
                     generation=GenerationConfig(max_tokens=settings.max_tokens, enable_thinking=settings.thinking))
    res = run_episode(inst.goal, model=build_model(settings), family=get_family(settings.family), runner=runner,
                      config=cfg)
    return {"status": res.status, "answer": res.answer, "reason": res.reason, "model_calls": res.model_calls,
            "prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens,
            "tokens": res.prompt_tokens + res.completion_tokens}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run one task instance on a fresh virtual desktop.")
    ap.add_argument("--task", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--policy", default="oracle", choices=["oracle", "model"])
    ap.add_argument("--grounding", default="app", choices=["app", "ocr", "ocr-strict"])
    ap.add_argument("--no-approve", action="store_true", help="refuse every risky action")
    ap.add_argument("--max-seconds", type=float, default=180.0)
    ap.add_argument("--view", action="store_true", help=f"serve the desktop to a browser; the URL goes to OUT/{VIEW_FILE}")
    args = ap.parse_args(argv)
    specs = load_specs()
    if args.task.startswith("miniwob.") and args.task not in specs:
        from tasks.miniwob import all_specs

        specs |= {s.id: s for s in all_specs()}
    if args.task not in specs:
        print(f"unknown task {args.task!r}", file=sys.stderr)
        return 2
    res = run_instance(specs[args.task].instantiate(args.seed), args.out, policy=args.policy,
                       grounding=args.grounding, approve=not args.no_approve, max_seconds=args.max_seconds,
                       view=args.view)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
