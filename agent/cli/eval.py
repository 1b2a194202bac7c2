"""``agent eval``: run a task suite with the oracle or the model policy and report success rates.

Every task instance gets its own fresh virtual desktop in its own process (``tasks.harness``), K at
a time; results go to ``OUT/results.jsonl`` as they finish, then a summary table, ``summary.json``
and ``report.html``. Success is decided by the task's evaluators reading the real final state.

``--policy model`` checks the endpoint before the first task (reachable, serves the model, takes
the key): a broken endpoint is one clear error, not a suite of ``model_error`` rows. Ctrl-C or
SIGTERM stops the eval within a second or two: no new task starts, the ones in flight are killed
with their Xvfb and app, and the partial results, summary and report are written, marked
interrupted.

Exit codes: 0 every task succeeded, 1 some failed, 2 bad input, 4 the model endpoint cannot be
used (nothing ran), 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from agent.cli.common import ApiKeyOpt, ModelNameOpt, ModelUrlOpt, app, console, err
from agent.untrusted import shown


@app.command("eval")
def eval_cmd(
    suite: Annotated[str, typer.Argument(help="bundled, adversarial, smoke, miniwob, miniwob-core, all, an app "
                                              "(booking, editor, form, widgets, web), or task ids / prefixes, comma-separated.")] = "bundled",
    policy: Annotated[str, typer.Option(help="oracle (scripted solutions) or model (agent.loop with the configured VLM).")] = "oracle",
    seeds: Annotated[int, typer.Option(help="Instances per task: seeds first-seed .. first-seed+N-1.")] = 1,
    first_seed: Annotated[int, typer.Option(help="The first seed.")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-k", help="Tasks run at the same time (each on its own Xvfb).")] = 1,
    view: Annotated[bool, typer.Option("--view", help="Watch each task's desktop live in a browser (a view-only "
                                                      "noVNC URL per task is printed when it starts).")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default runs/eval-SUITE-TIMESTAMP).")] = None,
    grounding: Annotated[str, typer.Option(help="Oracle grounding: app (the app's reported geometry, fast), ocr "
                                                "(by what is on screen, geometry fallback), ocr-strict.")] = "app",
    yes: Annotated[Optional[bool], typer.Option("--yes/--no-yes", help="Approve risky actions (the Pay button). "
                                                "Default: the oracle approves its own Pay step; the model policy does not.")] = None,
    task_timeout: Annotated[float, typer.Option(help="Seconds before a task process is killed.")] = 240.0,
    model_url: ModelUrlOpt = None,
    model: ModelNameOpt = None,
    api_key: ApiKeyOpt = None,
    list_: Annotated[bool, typer.Option("--list", help="List the tasks of SUITE and exit.")] = False,
) -> None:
    """Evaluate the agent (or the oracle) on parameterized tasks with evaluators that read real state."""
    from tasks.eval_report import eval_html
    from tasks.harness import EvalConfig, StopRequest, run_eval, summarize, write_summary
    from tasks.spec import TaskError, select

    try:
        specs = select(suite)
    except TaskError as e:
        err.print(f"[bold red]error:[/] {shown(e)}")
        raise typer.Exit(2)
    if list_:
        t = Table(title=f"suite {suite}: {len(specs)} tasks")
        for col in ("task", "app", "expect", "tags", "example goal (seed 0)"):
            t.add_column(col)
        for s in specs:
            t.add_row(shown(s.id), s.app, s.expect, ",".join(s.tags), shown(s.instantiate(0).goal, 110))
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
            settings = load_settings({"url": model_url, "name": model, "api_key": api_key})
        except ModelError as e:
            err.print(f"[bold red]error:[/] {shown(e)}")
            raise typer.Exit(2)
        if settings is None:
            err.print(NO_MODEL_HELP)
            raise typer.Exit(2)
        _check_model(settings)
        env = {k: v for k, v in {"AGENT_MODEL_URL": model_url, "AGENT_MODEL": model,
                                 "AGENT_API_KEY": api_key}.items() if v}
    approve = (policy == "oracle") if yes is None else yes
    cfg = EvalConfig(policy=policy, grounding=grounding, approve=approve, seeds=seeds, first_seed=first_seed,
                     workers=workers, task_timeout=task_timeout, env=env, view=view)
    folder = out or Path("runs") / time.strftime(f"eval-{suite.replace(',', '+')[:40]}-%Y%m%d-%H%M%S")
    console.print(f"[bold]agent eval[/] {shown(suite)}: {len(specs)} tasks x {seeds} seed(s), policy {shown(policy)}, "
                  f"{workers} worker(s) → {shown(folder)}")

    from agent.cli.progress import Tally

    tally = Tally(len(specs) * seeds)  # done/total, pass rate so far, ETA

    def show(r: dict) -> None:
        if r.get("ending") == "not_run":
            return
        mark = "[green]✓[/]" if r.get("success") else ("[yellow]■[/]" if r.get("ending") == "interrupted" else "[red]✗[/]")
        why = "" if r.get("success") else f" [dim]{shown(why_failed(r), 160)}[/]"
        console.print(f"  {mark} {shown(r['key']):<36} {shown(r.get('ending', '?')):<9} {r.get('steps', 0) or 0:>3} steps "
                      f"{r.get('elapsed_s', 0):6.1f} s{why}")
        console.print(f"    [dim]{tally.add(bool(r.get('success'))).line()}[/]")

    stop = StopRequest()
    t0 = time.monotonic()
    with _stop_on_signals(stop):
        results = run_eval(specs, folder, cfg, on_result=show, stop=stop,
                           on_view=lambda key, url: console.print(f"  [dim]live view of {shown(key)}:[/] {shown(url)}",
                                                                  highlight=False, soft_wrap=True))
    summary = summarize(results, time.monotonic() - t0)
    write_summary(folder, summary, cfg, suite, interrupted=stop.reason)
    title = f"agent eval {suite} ({policy})"
    page = eval_html(folder, results, summary, title, interrupted=stop.reason)
    if stop.reason:
        cut = summary.get("interrupted", {})
        err.print(f"[bold yellow]interrupted ({shown(stop.reason)})[/]: {len(results) - len(cut.get('cut_short', [])) - len(cut.get('never_ran', []))}"
                  f" of {len(results)} tasks finished · cut short: {shown(', '.join(cut.get('cut_short', [])) or 'none')}"
                  f" · never ran: {len(cut.get('never_ran', []))}")
        console.print(f"partial results: {shown(folder / 'results.jsonl')} · report: {shown(page)}")
        raise typer.Exit(128 + (signal.SIGTERM if stop.reason == "SIGTERM" else signal.SIGINT))
    _table(summary)
    console.print(f"results: {shown(folder / 'results.jsonl')} · report: {shown(page)}")
    raise typer.Exit(0 if summary["total"]["successes"] == summary["total"]["runs"] else 1)


@contextmanager
def _stop_on_signals(stop):
    """SIGINT / SIGTERM set ``stop`` (the harness polls it) instead of raising in the middle of it."""
    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        stop.set(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _check_model(settings) -> None:
    """Exit 4 naming the cause unless the endpoint answers, serves the model and takes the key."""
    from model.base import ModelError
    from model.config import build_model

    try:
        llm = build_model(settings)
        check = getattr(llm, "check", None)
        if check is None:
            return  # a local backend: nothing to reach
        if hasattr(llm, "retries"):
            llm.retries = 1  # a refused connection is not going to change in a few seconds
        console.print(f"[dim]model: {shown(check())}[/]")
    except (ModelError, ValueError) as e:
        err.print(f"[bold red]error:[/] the model endpoint cannot be used, so no task was run: {shown(e)}")
        raise typer.Exit(4)


def why_failed(r: dict) -> str:
    """The one line that says why a run did not succeed: a harness error, a safety stop, the model's
    error (``model_error``: the server's message) or the policy's reason, else the first failed check."""
    if r.get("error") or r.get("safety_stop"):
        return str(r.get("error") or r.get("safety_stop"))
    if r.get("reason") and r.get("ending") not in ("done",):
        return f"{r.get('ending')}: {r['reason']}"
    return _first_failed(r)


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
        t.add_row(shown(name), str(a["runs"]), f"[{colour}]{a['success_rate'] * 100:.0f}%[/]", f"{a['mean_steps']:.1f}",
                  "" if a["time_per_step_s"] is None else f"{a['time_per_step_s']:.2f}", str(a["tokens"]),
                  str(a["safety_stops"]))
    console.print(t)
    tot = summary["total"]
    if "wall_s" in tot:
        console.print(f"wall {tot['wall_s']} s · {tot['tasks_per_minute']} tasks/min · harness errors {tot['errors']}")
