"""``agent eval``: run a task suite with the oracle or the model policy and report success rates.

Every task instance gets its own fresh virtual desktop in its own process (``tasks.harness``), K at
a time; results go to ``OUT/results.jsonl`` as they finish, then a summary table, ``summary.json``
and ``report.html``. Success is decided by the task's evaluators reading the real final state.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from agent.cli.common import ModelNameOpt, ModelUrlOpt, app, console, err


@app.command("eval")
def eval_cmd(
    suite: Annotated[str, typer.Argument(help="bundled, adversarial, smoke, miniwob, miniwob-core, all, an app "
                                              "(booking, editor, form, widgets, web), or task ids / prefixes, comma-separated.")] = "bundled",
    policy: Annotated[str, typer.Option(help="oracle (scripted solutions) or model (agent.loop with the configured VLM).")] = "oracle",
    seeds: Annotated[int, typer.Option(help="Instances per task: seeds first-seed .. first-seed+N-1.")] = 1,
    first_seed: Annotated[int, typer.Option(help="The first seed.")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-k", help="Tasks run at the same time (each on its own Xvfb).")] = 1,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default runs/eval-SUITE-TIMESTAMP).")] = None,
    grounding: Annotated[str, typer.Option(help="Oracle grounding: app (the app's reported geometry, fast), ocr "
                                                "(by what is on screen, geometry fallback), ocr-strict.")] = "app",
    yes: Annotated[Optional[bool], typer.Option("--yes/--no-yes", help="Approve risky actions (the Pay button). "
                                                "Default: the oracle approves its own Pay step; the model policy does not.")] = None,
    task_timeout: Annotated[float, typer.Option(help="Seconds before a task process is killed.")] = 240.0,
    model_url: ModelUrlOpt = None,
    model: ModelNameOpt = None,
    list_: Annotated[bool, typer.Option("--list", help="List the tasks of SUITE and exit.")] = False,
) -> None:
    """Evaluate the agent (or the oracle) on parameterized tasks with evaluators that read real state."""
    from tasks.eval_report import eval_html
    from tasks.harness import EvalConfig, run_eval, summarize, write_summary
    from tasks.spec import TaskError, select

    try:
        specs = select(suite)
    except TaskError as e:
        err.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2)
    if list_:
        t = Table(title=f"suite {suite}: {len(specs)} tasks")
        for col in ("task", "app", "expect", "tags", "example goal (seed 0)"):
            t.add_column(col)
        for s in specs:
            t.add_row(s.id, s.app, s.expect, ",".join(s.tags), s.instantiate(0).goal[:110])
        console.print(t)
        raise typer.Exit(0)
    if policy not in ("oracle", "model") or grounding not in ("app", "ocr", "ocr-strict") or seeds < 1 or workers < 1:
        err.print("[bold red]error:[/] --policy is oracle|model, --grounding app|ocr|ocr-strict, --seeds and --workers >= 1")
        raise typer.Exit(2)
    env: dict[str, str] = {}
    if policy == "model":
        from model.base import ModelError
        from model.config import NO_MODEL_HELP, load_settings

        try:
            settings = load_settings({"url": model_url, "name": model})
        except ModelError as e:
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2)
        if settings is None:
            err.print(NO_MODEL_HELP)
            raise typer.Exit(2)
        env = {k: v for k, v in {"AGENT_MODEL_URL": model_url, "AGENT_MODEL": model}.items() if v}
    approve = (policy == "oracle") if yes is None else yes
    cfg = EvalConfig(policy=policy, grounding=grounding, approve=approve, seeds=seeds, first_seed=first_seed,
                     workers=workers, task_timeout=task_timeout, env=env)
    folder = out or Path("runs") / time.strftime(f"eval-{suite.replace(',', '+')[:40]}-%Y%m%d-%H%M%S")
    console.print(f"[bold]agent eval[/] {suite}: {len(specs)} tasks x {seeds} seed(s), policy {policy}, "
                  f"{workers} worker(s) → {folder}")

    from agent.cli.progress import Tally

    tally = Tally(len(specs) * seeds)  # done/total, pass rate so far, ETA

    def show(r: dict) -> None:
        mark = "[green]✓[/]" if r.get("success") else "[red]✗[/]"
        why = "" if r.get("success") else f" [dim]{(r.get('error') or r.get('safety_stop') or _first_failed(r))[:160]}[/]"
        console.print(f"  {mark} {r['key']:<36} {r.get('ending', '?'):<9} {r.get('steps', 0) or 0:>3} steps "
                      f"{r.get('elapsed_s', 0):6.1f} s{why}")
        console.print(f"    [dim]{tally.add(bool(r.get('success'))).line()}[/]")

    t0 = time.monotonic()
    results = run_eval(specs, folder, cfg, on_result=show)
    summary = summarize(results, time.monotonic() - t0)
    write_summary(folder, summary, cfg, suite)
    page = eval_html(folder, results, summary, f"agent eval {suite} ({policy})")
    _table(summary)
    console.print(f"results: {folder / 'results.jsonl'} · report: {page}")
    raise typer.Exit(0 if summary["total"]["successes"] == summary["total"]["runs"] else 1)


def _first_failed(r: dict) -> str:
    for c in r.get("checks", []):
        if not c["ok"]:
            return f"{c['what']}: {c['detail']}"
    return ""


def _table(summary: dict) -> None:
    t = Table(title="agent eval")
    for col in ("task", "runs", "success", "mean steps", "s/step", "tokens", "safety stops"):
        t.add_column(col, justify="left" if col == "task" else "right", min_width=30 if col == "task" else None)
    rows = list(summary["tasks"].items()) + [("TOTAL", summary["total"])]
    for name, a in rows:
        colour = "green" if a["success_rate"] == 1 else "red"
        t.add_row(name, str(a["runs"]), f"[{colour}]{a['success_rate'] * 100:.0f}%[/]", f"{a['mean_steps']:.1f}",
                  "" if a["time_per_step_s"] is None else f"{a['time_per_step_s']:.2f}", str(a["tokens"]),
                  str(a["safety_stops"]))
    console.print(t)
    tot = summary["total"]
    if "wall_s" in tot:
        console.print(f"wall {tot['wall_s']} s · {tot['tasks_per_minute']} tasks/min · harness errors {tot['errors']}")
