"""``agent record``, ``agent replay``, ``agent report``, ``agent export``: thin commands over
``agent.record.recorder``, ``agent.record.replay``, ``agent.trajectory.report`` and ``agent.record.export``.

Exit codes as elsewhere: 0 ok, 1 a step failed (replay stopped with a report and a screenshot),
2 bad input (nothing was touched), 3 a safety stop.
"""

from __future__ import annotations

import importlib.util
import signal
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from actions import secrets
from actions.errors import SafetyStop
from actions.killswitch import DEFAULT_HOTKEY
from agent.cli.common import (ApiKeyOpt, KillOpt, ModelNameOpt, ModelUrlOpt, NoKillOpt, RiskyOpt, YesOpt, build_executor, fail,
                       start_virtual, app, console, err, element_modeler,
                       report_after, ViewOpt, ViewControlOpt)
from agent.cli.progress import Tally
from agent.record.recorder import DEFAULT_SECRET, DEFAULT_STOP
from agent.untrusted import shown


def ocr_lines():
    """The OCR engine as ``image -> [(text, x, y, w, h)]``, or None when it cannot run here."""
    try:
        import numpy as np

        from model.ocr import get_engine

        engine = get_engine("rapidocr")
    except Exception:  # noqa: BLE001 - optional: recordings work without text anchors
        return None

    def read(img):
        return [(b.text, b.x, b.y, b.w, b.h) for b in engine.read(np.asarray(img.convert("RGB")))]

    return read


def _fallback_grounders(use_ocr: bool, model_flags: dict | None = None) -> tuple[list, object | None]:
    """OCR text anchor and, when a model is configured (flags > environment > config file), the VLM
    grounder; and the healer (``agent.record.heal.Healer``) over the same model, or None. A model
    named on the command line that cannot be set up is an error (exit 2), not a note."""
    out: list = []
    healer = None
    if use_ocr:
        try:
            from model.ground_text import OcrGrounder

            out.append(OcrGrounder())
        except Exception as e:  # noqa: BLE001
            err.print(f"[dim]no OCR text anchor: {shown(e)}[/]")
    try:
        from agent.record.heal import Healer
        from model.config import build_model, load_settings
        from model.families import get_family
        from model.ground_vlm import VlmGrounder

        settings = load_settings(model_flags or {})
        if settings is not None:
            llm = build_model(settings)
            out.append(VlmGrounder(llm))
            healer = Healer(llm, get_family(settings.family))
            err.print(f"[dim]VLM fallback grounder and healing: {shown(settings.describe())}[/]")
    except Exception as e:  # noqa: BLE001 - no model configured or reachable: offline anchors only
        if any(v is not None for v in (model_flags or {}).values()):
            raise fail(f"the VLM fallback grounder cannot be set up: {e}")
        err.print(f"[dim]no VLM fallback: {shown(e)}[/]")
    return out, healer


def _sigterm_to_interrupt() -> None:
    def handler(signum, frame):  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@app.command()
def record(
    out: Annotated[Path, typer.Argument(help="New folder for the recording (a trajectory).")],
    stop_hotkey: Annotated[str, typer.Option(help="Hotkey that ends the recording.")] = DEFAULT_STOP,
    secret_hotkey: Annotated[str, typer.Option(
        help="Hotkey that marks the text being typed (or the next text) as secret.")] = DEFAULT_SECRET,
    secret: Annotated[Optional[list[str]], typer.Option(
        "--secret", help="FIELD or NAME=FIELD: text typed into the field named FIELD (its element's name, "
                         "or the label OCR reads beside it) is stored as {{secret:NAME}}. Repeatable.")] = None,
    ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Read each target's text for replay anchors "
                                                             "(and the visual parse of windows without an accessibility tree).")] = True,
    elements: Annotated[bool, typer.Option("--elements/--no-elements", help="Name each target as an element "
                                                                         "(role, name, row) and record what each step changed.")] = True,
    virtual: Annotated[bool, typer.Option("--virtual", help="Record on a fresh virtual desktop.")] = False,
    view: ViewOpt = False,
    view_control: ViewControlOpt = False,
) -> None:
    """Record your mouse and keyboard as replayable steps (with screenshots) until the stop hotkey."""
    import functools

    from agent.record.labels import step_labeller
    from agent.record.recorder import Recorder, RecordError, env_name
    from agent.record.watch import tree_reader
    from agent.screen import Screen
    from agent.trajectory import TrajectoryError

    fields: dict[str, str] = {}
    for item in secret or []:
        name, _, label = item.rpartition("=")
        fields[label.strip()] = (name.strip() or env_name(label))
    reader = ocr_lines() if (ocr or fields) and importlib.util.find_spec("rapidocr_onnxruntime") else None
    if fields and reader is None:
        raise fail("--secret FIELD needs the OCR engine (pip install rapidocr-onnxruntime); "
                    "or mark secret typing with the secret hotkey")
    with ExitStack() as stack:
        if virtual:
            display = start_virtual(stack, "1280x800", view=view, view_control=view_control)
            # like `agent desktop`: the person (or xdotool) needs it to work on that desktop
            console.print(f"DISPLAY={display}  (virtual desktop 1280x800; in another shell: "
                          f"export DISPLAY={display})", highlight=False)
        try:
            screen = stack.enter_context(Screen())
            screen.size()
        except RuntimeError as e:
            raise fail(f"{e}. Try --virtual or `agent doctor`.")

        def show(i: int, step: dict) -> None:
            a = step["action"]
            el = (step.get("anchor") or {}).get("element") or step.get("focus")
            label = f"{el['role']} {el.get('name') or ''}".strip() if el else (step.get("anchor") or {}).get("text")
            console.print(f"[bold]{i:>3}[/] {shown(str({k: v for k, v in a.items() if v is not None}))}"
                          + (f"  [dim]{shown(repr(label), 80)}[/]" if label else "")
                          + (f"  [yellow]secret → set {step['secret']} when replaying[/]" if step.get("secret") else ""),
                          highlight=False)

        labeller = None
        if reader is not None or elements:
            labeller = functools.partial(step_labeller, ocr=reader is not None, elements=elements)
        try:
            rec = Recorder(out, screen=screen, stop_hotkey=stop_hotkey, secret_hotkey=secret_hotkey or None,
                           secret_fields={label: name for label, name in fields.items()},
                           labeller_factory=labeller, on_step=show,
                           tree_factory=functools.partial(tree_reader, screen.display) if elements else None,
                           on_note=lambda text: err.print(f"[yellow]note:[/] {shown(text)}", highlight=False))
        except RecordError as e:
            raise fail(str(e))
        _sigterm_to_interrupt()
        try:
            n = rec.run(ready=lambda: console.print(
                f"recording to {shown(out)} · stop: {shown(stop_hotkey)} · secret typing: {shown(secret_hotkey)}",
                highlight=False))
        except (RecordError, TrajectoryError) as e:
            raise fail(str(e))
    skipped = rec.figures.get("unlabelled_steps")
    console.print(f"recorded {n} steps → {shown(out)}  (replay: agent replay {shown(out)})"
                  + (f"; {skipped} without text labels (labelling fell behind)" if skipped else ""), highlight=False)
    report_after(out)


def _parse_vars(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise fail(f"--var wants NAME=VALUE, got {item!r}")
        out[name.strip()] = value
    return out


@app.command()
def replay(
    folder: Annotated[Path, typer.Argument(help="A recording (or any trajectory of agent run/do/fill).")],
    out: Annotated[Optional[Path], typer.Option(help="Trajectory of this replay (default runs/NAME-replay-TIME).")] = None,
    speed: Annotated[float, typer.Option(help="0: as fast as the screen settles; 1: the person's pace; 2: twice that.")] = 0.0,
    step: Annotated[bool, typer.Option("--step", help="Confirm each step at the terminal.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find every target and write annotated screenshots; act on nothing.")] = False,
    start: Annotated[int, typer.Option("--from", help="Start at this step index.")] = 0,
    var: Annotated[Optional[list[str]], typer.Option("--var", help="NAME=VALUE: another value for the typed text or "
                                                                   "the choice NAME (a suggestion, a day as YYYY-MM-DD, "
                                                                   "a row by its first cell).")] = None,
    find_timeout: Annotated[float, typer.Option(help="Seconds to keep looking for a step's target.")] = 10.0,
    effect_timeout: Annotated[float, typer.Option(help="Seconds to wait for the change a step made while recording.")] = 10.0,
    heal: Annotated[bool, typer.Option("--heal/--no-heal", help="With a model configured, hand a step that cannot "
                                                                 "be found to the agent loop with a sub-goal.")] = True,
    ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Use the OCR text anchor when the crop is not found.")] = True,
    virtual: Annotated[bool, typer.Option("--virtual", help="Replay on a fresh virtual desktop.")] = False,
    view: ViewOpt = False,
    view_control: ViewControlOpt = False,
    model_url: ModelUrlOpt = None,
    model: ModelNameOpt = None,
    api_key: ApiKeyOpt = None,
    yes: YesOpt = False,
    max_seconds: Annotated[float, typer.Option(help="Stop after this many seconds.")] = 600.0,
    risky_words: RiskyOpt = None,
    kill_hotkey: KillOpt = DEFAULT_HOTKEY,
    no_kill_hotkey: NoKillOpt = False,
) -> None:
    """Replay a recording: re-find every target (its element, then crop, OCR text, VLM) and check it is
    the recorded one, type only into the recorded field, act through the safe executor, await each
    step's recorded change (paging a calendar to the recorded month); heal with a model, or stop with
    a report and a screenshot at the first step that fails."""
    import sys

    from agent.record.outcome import ReplayOptions
    from agent.record.replay import Replayer, default_out
    from agent.record.variables import missing_secrets, variables_in
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryError, TrajectoryWriter, read_trajectory

    try:
        rec = read_trajectory(folder)
    except TrajectoryError as e:
        raise fail(str(e))
    if not rec.steps:
        raise fail(f"{folder} holds no complete step")
    for p in rec.problems:
        err.print(f"[yellow]note:[/] {shown(p)}")
    variables = _parse_vars(var)
    known = variables_in(rec)
    unknown = [v for v in variables if v not in known]
    if unknown:
        raise fail(f"--var {', '.join(unknown)}: the recording has no such typed value; it has: "
                    f"{', '.join(known) or 'none'}")
    if not 0 <= start < len(rec.steps):
        raise fail(f"--from {start}: the recording has steps 0..{len(rec.steps) - 1}")
    if not dry_run and (missing := missing_secrets(rec, start)):
        raise fail(f"set the secret(s) {', '.join(missing)} in the environment first "
                    f"(e.g. read -s {missing[0]}; export {missing[0]})")
    confirm = None
    if step:
        if not sys.stdin.isatty():
            raise fail("--step needs a terminal to confirm each step")
        from rich.prompt import Confirm

        def confirm(i: int, what: str) -> bool:
            return Confirm.ask(f"step {i}: {shown(what)} — do it?", default=True)

    fallbacks, healer = _fallback_grounders(ocr, {"url": model_url, "name": model, "api_key": api_key})
    if not heal:
        healer = None
    target = out or default_out(folder)
    code = 0
    with ExitStack() as stack:
        if virtual:
            start_virtual(stack, "1280x800", view=view, view_control=view_control)
        try:
            screen = stack.enter_context(Screen())
            w, h = screen.size()
            writer = TrajectoryWriter(target, kind="replay-dry-run" if dry_run else "replay", meta={
                "replay_of": str(folder), "screen": [w, h], "from": start, "speed": speed,
                "variables": sorted(variables)})
        except TrajectoryError as e:
            raise fail(str(e))
        except RuntimeError as e:
            raise fail(f"{e}. Try --virtual or `agent doctor`.")
        runner = None
        modeler = element_modeler()
        if not dry_run:
            heal_steps = 6 * len(rec.steps) if healer is not None else 0  # a healed step may take a few
            ex = build_executor(dry_run=False, yes=yes, max_steps=2 * len(rec.steps) + 30 + heal_steps,
                                max_seconds=max_seconds, risky_words=risky_words, kill_hotkey=kill_hotkey,
                                no_kill_hotkey=no_kill_hotkey, stack=stack)
            runner = StepRunner(ex, screen, writer, model_size=None if healer is None else (1280, 800),
                                elements=modeler)
        opts = ReplayOptions(speed=speed, start=start, variables=variables, find_timeout=find_timeout,
                             effect_timeout=effect_timeout, confirm=confirm)
        tally = Tally(len(rec.steps) - start)

        def show(i: int, msg: str, ok: bool = True) -> None:
            tally.add(ok)
            console.print(f"[bold]{i:>3}[/] {'[green]✓[/]' if ok else '[red]✗[/]'} {shown(msg)}  "
                          f"[dim]{tally.line('steps', rate=False)}[/]", highlight=False)

        player = Replayer(rec, screen, runner=runner, writer=writer, options=opts, fallbacks=fallbacks, on_step=show,
                          elements=modeler, healer=healer)
        try:
            res = player.run()
            status = res.to_json()
            if res.not_found:
                err.print(f"[yellow]dry run:[/] {len(res.not_found)} target(s) not on the current screen (steps "
                          f"{', '.join(map(str, res.not_found))}); earlier steps were not performed, so later "
                          "targets may simply not be there yet")
            if not res.ok:
                err.print(f"[bold red]replay stopped at step {res.failed_at}:[/] {shown(res.reason)}")
                if res.screenshot:
                    err.print(f"screenshot of the screen as it was: {shown(res.screenshot)}")
                code = 1
        except SafetyStop as e:
            err.print(f"[bold red]stopped:[/] {shown(e)}")
            status, code = {"ok": False, "safety_stop": secrets.mask(str(e))}, 3
        writer.close(status)
    report_after(target)
    if code == 0 and dry_run:
        total = res.steps_done + len(res.not_found)
        console.print(f"dry run: {res.steps_done} of {total} steps ready on the current screen"
                      + (f"; {len(res.not_found)} target(s) not found" if res.not_found else "")
                      + f" → {shown(target)}", highlight=False)
    elif code == 0:
        extra = "".join(f"; {len(v)} {k} (steps {', '.join(map(str, v))})"
                        for k, v in (("healed", res.healed), ("repaired", res.repaired)) if v)
        console.print(f"replayed {res.steps_done} steps in {res.elapsed_s:.1f} s{extra} → {shown(target)}",
                      highlight=False)
    else:
        console.print(f"replay trajectory: {shown(target)}", highlight=False)
    raise typer.Exit(code)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A trajectory folder (record, replay, run, do, fill).")],
    out: Annotated[Optional[Path], typer.Option(help="HTML file to write (default: NAME-report.html next to the folder).")] = None,
) -> None:
    """Write one self-contained HTML report (opens offline): verdict and totals, a step index with
    thumbnails and filters (errors / risky / healed), the first error first, per step the screens before
    and after with the target marked, the element, the risky-action gate's evidence, the model's output
    and timings; secrets masked."""
    from agent.trajectory.report import write_report
    from agent.trajectory import TrajectoryError

    try:
        path = write_report(folder, out)
    except (TrajectoryError, OSError) as e:
        raise fail(str(e))
    console.print(f"report: {shown(path)}", highlight=False)


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="A recording (trajectory folder).")],
    format: Annotated[str, typer.Option("--format", help="Output format (yaml: an agent fill script).")] = "yaml",
    out: Annotated[Optional[Path], typer.Option(help="Write the script here (default: print it).")] = None,
    vars: Annotated[bool, typer.Option("--vars", help="Turn typed values into {var} placeholders and write "
                                                      "a CSV with their header and the recorded row.")] = False,
) -> None:
    """Turn a recording into an `agent fill` script (click / type / select / press / hotkey / scroll / wait_for)."""
    import csv

    from agent.record.export import export_yaml
    from agent.trajectory import TrajectoryError

    if format != "yaml":
        raise fail(f"--format {format!r}: only yaml is supported")
    try:
        text, notes, variables = export_yaml(folder, out, use_vars=vars)
    except (TrajectoryError, ValueError) as e:
        raise fail(str(e))
    for n in notes:
        err.print(f"[yellow]note:[/] {shown(n)}")
    if out is None:
        console.print(text, highlight=False, markup=False)
        if variables:
            err.print(f"CSV header for the data rows: {shown(','.join(variables))}")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"fill script: {shown(out)}", highlight=False)
    if variables:
        data = out.parent / f"{folder.name}.csv"
        with open(data, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(variables)
            w.writerow(variables.values())
        console.print(f"data rows: {shown(data)} (header {shown(','.join(variables))}; the recorded values as the first row)",
                      highlight=False)
