"""``agent fill SCRIPT.yaml --data ROWS.csv``: scripted form filling over many rows.

Thin on purpose: it parses options, validates the script and the data *before anything is touched*
(exit 2 with file:line errors), builds the collaborators — the safe executor, the screen, the step
runner with the screen element model, the trajectory, a pixel grounder for image and description
targets and as the fallback (offline OCR, or offline first with GLM-4.5V when a model is configured) —
and hands rows to ``agent.fill.FillRunner``, showing a progress bar over rows with the current step.
``--app NAME`` starts a bundled app first (``agent.cli.fill_apps``) so a new user can try an example
at once.

Resuming (``--resume``) goes through ``agent.fill.resume``: a row a cut run left in progress is
*uncertain* and is settled by the script's ``already_done`` check or ``--redo-uncertain``, never
redone blindly.

Exit codes: 0 every row ok, 1 some row failed, 2 bad input (nothing touched), 3 a safety stop,
4 some row is uncertain (a person must look: was it stored?), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from actions import secrets
from actions.errors import SafetyStop
from actions.killswitch import DEFAULT_HOTKEY
from agent.cli import fill_apps
from agent.untrusted import shown
from agent.cli.common import (ApiKeyOpt, KillOpt, MaxSecondsOpt, MaxStepsOpt, ModelNameOpt, ModelUrlOpt, NoKillOpt, RiskyOpt,
                       YesOpt, build_executor, fail,
                       start_virtual, app, console, err, element_modeler)


@app.command()
def fill(
    script_path: Annotated[Path, typer.Argument(metavar="SCRIPT.yaml", help="The fill script (YAML).")],
    data: Annotated[Optional[Path], typer.Option("--data", "-d", help="CSV rows (default: the script's 'data').")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder: results, trajectory, screenshots (default runs/fill-TIME).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out after its last finished row.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="With --resume: run failed rows again too.")] = False,
    redo_uncertain: Annotated[bool, typer.Option("--redo-uncertain", help=(
        "With --resume: run rows a cut run left uncertain again without checking (after the reset steps); "
        "only when you have looked and they were not stored."))] = False,
    key: Annotated[Optional[str], typer.Option("--key", metavar="COLUMN", help=(
        "Data column that names a row in the results (default: the script's 'key', else id/email/name ...)."))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Annotate where each step would act on the current screen; touch nothing.")] = False,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Process at most this many rows.")] = None,
    app_name: Annotated[Optional[str], typer.Option("--app", help=(
        "Start a bundled app first: sample (the contact form), intake, loan (Tk forms) or web (Rail&Go in Chromium)."))] = None,
    virtual: Annotated[bool, typer.Option("--virtual", help="Run on a fresh virtual desktop.")] = False,
    size: Annotated[str, typer.Option(help="Virtual screen size with --virtual.")] = "1280x800",
    ocr: Annotated[str, typer.Option(help="Offline OCR engine: rapidocr or tesseract.")] = "rapidocr",
    grounder: Annotated[str, typer.Option(help=(
        "Pixel grounding for image and description targets and the fallback: auto (offline, VLM when a model "
        "is set), offline, vlm, chain."))] = "auto",
    elements: Annotated[bool, typer.Option("--elements/--no-elements", help=(
        "Find targets on the screen element model (default); --no-elements grounds every target with --grounder "
        "alone (nothing read back)."))] = True,
    model_url: ModelUrlOpt = None,
    model: ModelNameOpt = None,
    api_key: ApiKeyOpt = None,
    settle_ms: Annotated[int, typer.Option(help="The screen must be still this long after an action.")] = 100,
    yes: YesOpt = False,
    max_steps: MaxStepsOpt = 20000,
    max_seconds: MaxSecondsOpt = 7200.0,
    risky_words: RiskyOpt = None,
    kill_hotkey: KillOpt = DEFAULT_HOTKEY,
    no_kill_hotkey: NoKillOpt = False,
) -> None:
    """Fill forms from CSV rows with a YAML script; elements are found on screen by role and name."""
    from agent.fill.resume import plan_rows
    from agent.fill.resume import settle as settle_uncertain
    from agent.fill.runner import FillRunner, StepFailed
    from agent.fill.results import DataError, Ledger, RowResult, key_column, load_rows
    from agent.fill.script import ScriptError, load_script
    from agent.screen import Screen
    from agent.steps import SettleConfig, StepRunner
    from agent.trajectory import TrajectoryError, TrajectoryWriter
    from model.base import ModelError
    from model.config import build_model, load_settings
    from model.grounders import build_grounder
    from model.ocr import OcrUnavailable

    # everything that can be wrong with the input is found before anything is touched
    try:
        script = load_script(script_path)
        data_path = data or (script_path.parent / script.data if script.data else None)
        if data_path is None:
            raise DataError("no data: pass --data ROWS.csv (or set 'data:' in the script)")
        rows = load_rows(data_path)
    except (ScriptError, DataError) as e:
        raise fail(str(e))
    cols = set(rows[0]) if rows else set()
    unknown = [v for v in script.variables() if rows and v not in cols]
    if unknown:
        raise fail(f"{script_path}: the steps use {', '.join('{' + u + '}' for u in unknown)} but {data_path} "
                    f"has no such column (columns: {', '.join(sorted(cols))})")
    if app_name is not None and app_name not in fill_apps.APPS:
        raise fail(f"unknown --app {app_name!r}: bundled apps are {', '.join(fill_apps.APPS)}")
    if resume and out is None:
        raise fail("--resume needs --out, the folder of the run to continue")
    if (retry_failed or redo_uncertain) and not resume:
        raise fail("--retry-failed and --redo-uncertain go with --resume")
    folder = out or Path("runs") / time.strftime("fill-%Y%m%d-%H%M%S")
    try:
        ledger = Ledger.load(folder) if resume else Ledger(folder)
        stored_key = ledger.meta.get("key_column")
        key_col = key_column(rows, key or script.key or (stored_key if stored_key in cols else None))
        ledger.check_keys(rows, key_col)
    except DataError as e:
        raise fail(str(e))
    if not resume and ledger.json_path.exists():
        raise fail(f"{folder} already holds a fill run; pass --resume to continue it or pick a new --out")
    llm = None
    try:
        settings = load_settings({"url": model_url, "name": model, "api_key": api_key})
        if settings is not None and grounder != "offline":
            llm = build_model(settings)
        ground = build_grounder(ocr, llm, grounder)
    except (ModelError, ValueError, OcrUnavailable) as e:
        raise fail(str(e))
    plan = plan_rows(rows, ledger, resume=resume, retry_failed=retry_failed,
                     redo_uncertain=redo_uncertain, checkable=script.already_done is not None, limit=limit)
    ledger.meta = {"script": str(script_path), "data": str(data_path), "rows": len(rows), "grounder": ground.name,
                   "key_column": key_col}
    ledger.keys = {n: r.get(key_col, "") for n, r in enumerate(rows, start=1)} if key_col else {}
    was_uncertain = ledger.uncertain()
    for n in plan.held:
        r = ledger.rows[n]
        err.print(f"[yellow]row {n} ({shown(key_col)} {shown(ledger.keys.get(n))}) is uncertain[/]: {shown(r.error)}. "
                  "Not redone. Look whether it was stored; then `--resume --redo-uncertain` runs it again, or "
                  "add `already_done:` to the script so a resume can check by itself.")
    if plan.settle and not script.reset and (redo_uncertain or script.already_done):
        err.print("[yellow]note:[/] the script has no reset steps: what a cut row left in the form stays there "
                  "when it is checked or redone")

    code = 0
    with ExitStack() as stack:
        if virtual:
            start_virtual(stack, size)
        ex = build_executor(dry_run=dry_run, yes=yes, max_steps=max_steps, max_seconds=max_seconds,
                       risky_words=risky_words, kill_hotkey=kill_hotkey, no_kill_hotkey=no_kill_hotkey or dry_run,
                       stack=stack)
        try:
            screen = stack.enter_context(Screen())
            screen.size()
        except Exception as e:  # noqa: BLE001 - no display
            raise fail(f"cannot capture the screen: {e}. Try --virtual or `agent doctor`.")
        writer = None
        if not dry_run:
            try:
                writer = TrajectoryWriter(folder / "trajectory", kind="fill", append=resume, meta={
                    "script": str(script_path), "data": str(data_path), "rows": len(rows)})
            except TrajectoryError as e:
                raise fail(str(e))
        settle = SettleConfig(interval=0.03, stable_for=settle_ms / 1000, timeout=3.0)
        runner = StepRunner(ex, screen, writer, settle=settle, elements=element_modeler())
        filler = FillRunner(script, runner, ground, out=folder, elements=elements)
        store = fill_apps.start(stack, app_name, folder, fill_apps.shows(filler)) if app_name else None
        how = (f"elements ({'+'.join(runner.modeler.sources)}), {ground.name} for images and fallback" if elements
               else f"grounder {ground.name}")
        console.print(f"[bold]{shown(script.name)}[/]: {len(plan.todo)} of {len(rows)} rows · {how} "
                      f"· run {folder}" + (f" · {len(plan.settle)} uncertain to settle" if plan.settle else "")
                      + (" · [yellow]dry run[/]" if dry_run else ""))
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = stack.enter_context(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                                TimeElapsedColumn(), console=console, transient=False))
        task = progress.add_task("rows", total=len(plan.todo))
        filler.on_step = lambda n, i, d: progress.update(task, description=f"row {n} · step {i}: {shown(d, 48)}")
        current, settling = None, False
        try:
            if plan.held and plan.todo and plan.todo[0][0] not in plan.settle and script.reset and not dry_run:
                # a held row may have left its input on screen: the next row must not type into it
                progress.update(task, description="reset (a cut row may have left input on screen)")
                filler.reset(plan.todo[0][1])
            for n, row in plan.todo:
                current = n
                if dry_run:
                    res, stop = filler.annotate(n, row, folder / "dry-run" / f"row-{n:04d}.png"), False
                else:
                    ledger.start(n)  # durable before the row's first action
                    res, stop, note = None, False, None
                    if n in plan.settle:
                        settling = True
                        progress.update(task, description=f"row {n} · settling (uncertain)")
                        verdict = settle_uncertain(filler, n, row, redo=redo_uncertain and n in was_uncertain)
                        settling = False
                        res, stop, note = verdict.result, verdict.stop, verdict.note
                    if res is None:
                        res, stop = filler.run_row(n, row)
                        res.note = note
                ledger.record(res)
                current = None
                progress.advance(task)
                label = f"row {n} ({shown(ledger.keys.get(n))})" if ledger.keys.get(n) else f"row {n}"
                if res.status == "uncertain":
                    progress.console.print(f"[yellow]{label} uncertain[/]: {shown(res.error)}")
                elif res.status == "failed" or res.error:  # a dry run's problems count too
                    code = 1
                    progress.console.print(f"[red]{label} {res.status}[/]: {shown(res.error)}")
                elif res.note:
                    progress.console.print(f"[green]{label}[/] {shown(res.note)}")
                if stop:
                    why = "the reset steps failed" if res.status == "uncertain" else "on_error: stop"
                    progress.console.print(f"[red]stopping[/] ({why}); `--resume` continues after this row")
                    break
        except SafetyStop as e:
            if current is not None:
                # a stop before the row's first action left nothing done; after it, the row is uncertain
                cut = settling or current in plan.settle or filler.acted > 0
                ledger.record(RowResult(current, "uncertain" if cut else "stopped",
                                        secrets.mask(str(e) or e.reason)
                                        + (f" (after {filler.acted} action(s) of this row: whether its effect "
                                           "happened is unknown)" if cut else ""), filler.step))
            err.print(f"[bold red]stopped:[/] {shown(str(e))}")
            code = 3
        except KeyboardInterrupt:
            if current is not None:
                ledger.record(RowResult(current, "uncertain", "interrupted by Ctrl-C while in progress; "
                                        "whether its effect happened is unknown", filler.step))
            err.print("[bold red]interrupted[/] (Ctrl-C); `--resume` continues, the cut row is uncertain")
            code = 130
        except StepFailed as e:
            err.print(f"[bold red]error:[/] {shown(str(e))}")
            code = 1
        finally:
            ledger.write()
            if writer is not None:
                writer.close({"ok": code == 0, "counts": ledger.counts()})
        counts = ledger.counts()
        progress.stop()
        done = (f"rows annotated {counts['dry-run']} (problems in results)" if dry_run
                else f"rows ok {counts['ok']} · failed {counts['failed']}"
                + (f" · [yellow]uncertain {counts['uncertain']}[/]" if counts["uncertain"] else ""))
        console.print(f"{done} · results {ledger.csv_path} and {ledger.json_path}"
                      + (f" · dry-run screenshots in {folder / 'dry-run'}" if dry_run else ""))
        left = sorted(ledger.uncertain())
        if left and not dry_run:
            console.print(f"[bold yellow]{len(left)} row(s) uncertain — a person must look whether they were stored:[/] "
                          + ", ".join(f"row {n} {shown(ledger.rows[n].key or '')}" for n in left))
            if code in (0, 1):
                code = 4
        if store is not None:
            console.print(shown(store[1]()))
    raise typer.Exit(code)
