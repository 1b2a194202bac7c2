"""The small commands: ``version``, ``desktop``, ``doctor``, ``do``, ``screenshot``, ``verify``, ``demo``."""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from actions import secrets
from actions.errors import SafetyStop
from actions.killswitch import DEFAULT_HOTKEY
from agent.cli.common import (KillOpt, MaxSecondsOpt, MaxStepsOpt, ModelNameOpt, ModelUrlOpt, NoKillOpt, RiskyOpt,
                              ViewControlOpt, ViewOpt, YesOpt, app, build_executor, console, err, fail,
                              start_virtual, tool_version, view_line, element_modeler, report_after)
from agent.untrusted import shown


@app.command()
def version() -> None:
    """Print the version."""
    console.print(tool_version(), highlight=False)


@app.command()
def desktop(
    size: Annotated[str, typer.Option(help="Screen size, WIDTHxHEIGHT.")] = "1280x800",
    wm: Annotated[bool, typer.Option("--wm", help="Also start a small window manager.")] = False,
    a11y: Annotated[bool, typer.Option("--a11y", help="Also start an accessibility bus (AT-SPI2) so apps "
                                       "started with the printed variables publish their trees.")] = False,
    view: ViewOpt = False,
    view_control: ViewControlOpt = False,
    view_port: Annotated[Optional[int], typer.Option(help="Port of the live view's page (default: a free one).")] = None,
) -> None:
    """Start a virtual desktop (Xvfb) on a free display; print its DISPLAY (and with --view the URL that
    shows it live in a browser); clean up on Ctrl-C."""
    from contextlib import contextmanager

    from agent.desktop import parse_size, serve_forever
    from agent.desktop.liveview import LiveView

    try:
        dims = parse_size(size)
    except ValueError as e:
        raise fail(str(e))

    @contextmanager
    def live(desk):
        with LiveView(desk.display, control=view_control, port=view_port) as v:
            console.print(view_line(v), highlight=False, soft_wrap=True)
            yield v

    attach = live if (view or view_control) else None
    raise typer.Exit(serve_forever(dims, window_manager=wm, print_fn=console.print, accessibility=a11y,
                                   attach=attach))


@app.command()
def doctor(
    calibrate: Annotated[bool, typer.Option(help="Open a test window and click known targets.")] = True,
    virtual: Annotated[bool, typer.Option("--virtual", help="Check a fresh virtual desktop instead of $DISPLAY.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the set-up: display, screen size and scale, monitors, input permission, click accuracy,
    accessibility trees."""
    import agent.desktop.doctor_a11y  # noqa: F401 - registers the accessibility check
    import agent.desktop.doctor_model  # noqa: F401 - registers the model endpoint check
    from agent.desktop.doctor import exit_code, render, run_checks

    with ExitStack() as stack:
        display = os.environ.get("DISPLAY")
        if virtual:
            display = start_virtual(stack, "1280x800")
        checks = run_checks(display=display, calibrate=calibrate)
    if as_json:
        console.print_json(json.dumps([c.__dict__ for c in checks]))
    else:
        render(checks, console)
    raise typer.Exit(exit_code(checks))


def _load_actions(args: list[str], file: Path | None):
    from actions.errors import ActionValidationError
    from actions.space import action_from_json

    raw: list[tuple[str, str]] = [(f"argument {i + 1}", a) for i, a in enumerate(args)]
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise fail(f"--file {file}: cannot read it ({getattr(e, 'strerror', None) or e})")
        raw += [(f"{file}:{n}", line) for n, line in enumerate(text.splitlines(), 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not raw:
        raise fail("no actions given: pass JSON actions as arguments or --file actions.jsonl")
    out = []
    for where, text in raw:
        try:
            out.append(action_from_json(text))
        except ActionValidationError as e:
            raise fail(f"{where}: {e}")
    return out


@app.command("do")
def do(
    actions: Annotated[Optional[list[str]], typer.Argument(
        help='Actions as JSON, e.g. \'{"type": "click", "x": 100, "y": 200}\'.')] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="JSON Lines file of actions ('-' = stdin).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write a trajectory (steps.jsonl, screenshots, manifest) here.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and record only; touch nothing.")] = False,
    virtual: Annotated[bool, typer.Option("--virtual", help="Run on a fresh virtual desktop.")] = False,
    view: ViewOpt = False,
    view_control: ViewControlOpt = False,
    yes: YesOpt = False,
    max_steps: MaxStepsOpt = 50,
    max_seconds: MaxSecondsOpt = 600.0,
    risky_words: RiskyOpt = None,
    kill_hotkey: KillOpt = DEFAULT_HOTKEY,
    no_kill_hotkey: NoKillOpt = False,
) -> None:
    """Perform typed actions through the safe executor (bounds, caps, confirmation, kill hotkey)."""
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryError, TrajectoryWriter

    todo = _load_actions(actions or [], file)
    code = 0
    with ExitStack() as stack:
        if virtual:
            start_virtual(stack, "1280x800", view=view, view_control=view_control)
        ex = build_executor(dry_run=dry_run, yes=yes, max_steps=max_steps, max_seconds=max_seconds,
                       risky_words=risky_words, kill_hotkey=kill_hotkey, no_kill_hotkey=no_kill_hotkey,
                       stack=stack)
        screen = None if dry_run or out is None else stack.enter_context(Screen())
        writer = None
        if out is not None:
            try:
                writer = TrajectoryWriter(out, kind="do", meta={"dry_run": dry_run})
            except TrajectoryError as e:
                raise fail(str(e))
        runner = StepRunner(ex, screen, writer, elements=None if dry_run else element_modeler())
        status = {"ok": True}
        try:
            for a in todo:
                o = runner.act(a)
                mark = "[green]ok[/]" if o.result.ok else f"[red]error[/] {shown(o.result.error)}"
                console.print(f"{shown(a.describe())}  {mark}  [dim]{o.timings.get('execute_s', 0) * 1000:.1f} ms[/]")
                if not o.result.ok:
                    code, status = 1, {"ok": False, "error": o.result.error}
                    break
        except SafetyStop as e:
            err.print(f"[bold red]stopped:[/] {shown(e)}")
            code, status = 3, {"ok": False, "safety_stop": secrets.mask(str(e))}
        finally:
            if writer is not None:
                writer.close(status)
                console.print(f"trajectory: {shown(writer.folder)}", highlight=False)
                report_after(writer.folder)
    raise typer.Exit(code)


@app.command()
def screenshot(
    path: Annotated[Path, typer.Argument(help="Output file (.png or .jpg).")],
    monitor: Annotated[int, typer.Option(help="Monitor index (0 = the whole desktop).")] = 0,
    region: Annotated[Optional[str], typer.Option(help="LEFT,TOP,WIDTH,HEIGHT in screen pixels.")] = None,
    max_size: Annotated[Optional[str], typer.Option(help="Downscale to fit WIDTHxHEIGHT (as for a model).")] = None,
) -> None:
    """Capture the screen (after it settled) to a PNG or JPEG file."""
    from agent.desktop import parse_size
    from agent.screen import Region, Screen, downscale, encode

    try:
        reg = Region(*[int(v) for v in region.split(",")]) if region else None
        limit = parse_size(max_size) if max_size else None
    except (ValueError, TypeError) as e:
        raise fail(f"bad --region or --max-size: {e}")
    fmt = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    try:
        with Screen() as s:
            frame = s.capture(monitor, reg)
    except Exception as e:  # no display, bad monitor index
        raise fail(f"cannot capture the screen: {e}")
    img = downscale(frame.image, limit)[0] if limit else frame.image
    path.write_bytes(encode(img, fmt))
    console.print(f"{shown(path)} {img.width}x{img.height} (screen area {frame.width}x{frame.height}+{frame.left}+{frame.top})")


@app.command()
def verify(folder: Annotated[Path, typer.Argument(help="A trajectory folder.")]) -> None:
    """Check a trajectory: complete steps, a torn last line (kill -9), manifest hashes."""
    from agent.trajectory import TrajectoryError, read_trajectory
    from agent.trajectory import verify as verify_files

    try:
        t = read_trajectory(folder)
    except TrajectoryError as e:
        raise fail(str(e))
    problems = list(t.problems) + [p for p in verify_files(folder) if p not in t.problems]
    table = Table(title=f"{shown(folder)} ({shown(t.meta.get('kind', '?'))})")
    for col in ("#", "action", "ok", "ms"):
        table.add_column(col)
    for s in t.steps:
        a = s.get("action") or {}
        ms = (s.get("timings") or {}).get("execute_s")
        table.add_row(str(s.get("index")), shown(json.dumps(a, ensure_ascii=False)), str(s.get("ok")),
                      "" if ms is None else f"{ms * 1000:.1f}")
    console.print(table)
    console.print(f"{len(t.steps)} complete steps; sealed: {t.sealed}")
    for p in problems:
        console.print(f"[yellow]problem:[/] {shown(p)}")
    raise typer.Exit(1 if problems else 0)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to write the trajectory.")] = Path("runs/demo"),
    size: Annotated[str, typer.Option(help="Virtual screen size.")] = "1280x800",
    model_url: ModelUrlOpt = None,
    model: ModelNameOpt = None,
    yes: YesOpt = False,
    demo_app: Annotated[str, typer.Option("--app", help="tk: the Tk booking app, grounded by OCR; web: Rail&Go, "
                                                        "the bundled web site in Chromium.")] = "tk",
    view: ViewOpt = False,
    view_control: ViewControlOpt = False,
) -> None:
    """Offline demo (no GPU, no network): a virtual desktop, a bundled booking app (Tk, or the web site in
    Chromium), a ticket booked through the safe executor; the app's database decides; trajectory + report."""
    from tasks.demo import DEMOS, run_demo

    if demo_app not in DEMOS:
        raise fail(f"--app must be one of {', '.join(DEMOS)}, got {shown(repr(demo_app), 40)}")
    with ExitStack() as stack:
        start_virtual(stack, size, view=view, view_control=view_control)
        raise typer.Exit(run_demo(out, console, model_url=model_url, model=model, yes=yes, app=demo_app))
