"""``agent inspect``: what the agent sees, like a browser's accessibility inspector.

One snapshot of the screen element model (the accessibility tree where apps publish one, the visual
parse of the windows that do not): a table of every element (number, id, role, name, value, states,
bounds, source, row/group), ``--json`` for scripts, ``--overlay`` the screenshot with the same
numbers drawn as boxes, ``--at X,Y`` the element under a point. ``--virtual --app NAME`` shows a
bundled app on a fresh virtual desktop.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.common import app, console, err, fail, start_virtual
from agent.untrusted import shown


def _point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise fail(f"--at wants X,Y in screen pixels, got {text!r}") from None
    return x, y


def _start_bundled(stack: ExitStack, name: str, workdir: Path) -> None:
    """Start a bundled app and stop it with the command: a task app (its first task's set-up, seed 0)
    or one of ``agent fill --app``'s forms (``intake``, ``loan``, ``sample``), waited for until its
    first screen shows its landmark text."""
    from agent.cli import fill_apps
    from tasks.environment import APPS, start_app
    from tasks.spec import TaskError, select

    if name not in APPS and name in fill_apps.APPS:
        fill_apps.start(stack, name, workdir, _landmark_shown(stack))
        return
    if name not in APPS:
        raise fail(f"--app {name!r}: bundled apps are {', '.join(sorted(set(APPS) | set(fill_apps.APPS)))}")
    try:
        spec = select(name)[0]
        handle = start_app(spec.instantiate(0), workdir)
    except (TaskError, IndexError) as e:
        raise fail(f"cannot start the bundled app {name!r}: {e}", 1)
    stack.callback(handle.stop)


def _landmark_shown(stack: ExitStack):
    """``on_screen(text)`` for ``fill_apps.start``: does the screen show ``text`` (a bundled form's
    title) yet? Read from the element model, one modeler for all the polls."""
    from agent.elements.snapshot import ElementModeler
    from agent.screen import Screen, wait_settled

    screen = stack.enter_context(Screen())
    modeler = ElementModeler.auto()

    def on_screen(text: str) -> bool:
        model = modeler.snapshot(wait_settled(screen, timeout=5.0).frame)
        return any(text.casefold() in (e.name or "").casefold() for e in model.elements)
    return on_screen


@app.command()
def inspect(
    at: Annotated[Optional[str], typer.Option("--at", help="X,Y: show only the element under this screen point.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the elements as a JSON list.")] = False,
    overlay: Annotated[Optional[Path], typer.Option(help="Write the screenshot with numbered element boxes here (PNG).")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", help="Only elements a person can act on.")] = False,
    source: Annotated[str, typer.Option(help="auto (tree + pixels), a11y (the tree only) or visual (pixels only).")] = "auto",
    virtual: Annotated[bool, typer.Option("--virtual", help="Inspect a fresh virtual desktop (with --app).")] = False,
    app_name: Annotated[Optional[str], typer.Option("--app", help="Start a bundled app first (web, booking, form, intake, loan, ...).")] = None,
    size: Annotated[str, typer.Option(help="Virtual screen size with --virtual.")] = "1280x800",
) -> None:
    """Show the screen's elements as the agent sees them: roles, names, values, states, bounds, sources."""
    import tempfile

    from agent.elements.snapshot import ElementModeler
    from agent.screen import Screen, wait_settled

    if source not in ("auto", "a11y", "visual"):
        raise fail(f"--source {source!r}: use auto, a11y or visual")
    point = _point(at) if at else None
    with ExitStack() as stack:
        if virtual:
            start_virtual(stack, size)
        if app_name:
            _start_bundled(stack, app_name, Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="inspect-"))))
        try:
            screen = stack.enter_context(Screen())
            frame = wait_settled(screen, timeout=5.0).frame
        except Exception as e:  # noqa: BLE001 - no display
            raise fail(f"cannot capture the screen: {e}. Try --virtual or `agent doctor`.")
        modeler = ElementModeler.auto(a11y=source != "visual", visual=source != "a11y")
        model = modeler.snapshot(frame)
        elements = list(model.interactive() if interactive else model.elements)
        if point is not None:
            hit = modeler.element_at(*point) if source != "visual" else model.at(*point)
            elements = [hit] if hit is not None else []
        if overlay is not None:
            from actions.coords import ImageMap
            from agent.elements.overlay import draw_marks

            imap = ImageMap(model.area, frame.width, frame.height)
            draw_marks(frame.image, elements, imap).save(overlay)
    if as_json:
        sys.stdout.write(json.dumps([e.to_json() for e in elements], ensure_ascii=False, indent=1) + "\n")
    else:
        _table(elements, model)
        if overlay is not None:
            console.print(f"overlay: {shown(overlay)}", highlight=False)
    if point is not None and not elements:
        err.print(f"no element at ({point[0]:g}, {point[1]:g})")
        raise typer.Exit(1)


def _table(elements, model) -> None:
    t = Table(title=f"{len(elements)} elements · sources: {', '.join(model.sources) or 'none'} · "
                    f"{model.timings.get('total', 0) * 1000:.0f} ms")
    for col in ("#", "id", "role", "name", "value", "states", "bounds", "source", "row / group"):
        t.add_column(col, overflow="fold")
    for i, e in enumerate(elements, start=1):
        b = e.bounds
        ctx = " · ".join(shown(v, 40) for v in (e.row, e.group) if v)
        t.add_row(str(i), e.id, e.role, shown(e.name, 60), shown(e.value or "", 40), ", ".join(sorted(e.states)),
                  f"{b.left:.0f},{b.top:.0f} {b.width:.0f}x{b.height:.0f}", e.source, ctx)
    wide = console if console.is_terminal else Console(width=200, emoji=False)  # one line per element when piped
    wide.print(t)
    for n in model.notes:
        console.print(f"[dim]note: {shown(n, 300)}[/]", highlight=False)
