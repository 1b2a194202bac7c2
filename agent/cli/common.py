"""What every ``agent`` command shares: the typer app, the consoles, the common options and the
helpers that build the collaborators (a virtual desktop, the safe executor).

The CLI modules (``agent/cli/*.py``) alone may import every package of the project; the packages
never import them. Commands are thin: they parse options, build the collaborators and hand them to
the module that does the work.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Annotated, Optional

import typer
from rich.console import Console

from agent.untrusted import shown

app = typer.Typer(
    name="agent",
    help="desk-agent: a desktop GUI agent with a safe executor, driven by a local GLM-4.5V.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True, emoji=False)  # ":smile:" in a page or a model answer stays text


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version as v

    try:
        return f"desk-agent {v('desk-agent')}"
    except PackageNotFoundError:
        return "desk-agent (not installed)"


def _version_option(value: bool) -> None:
    if value:
        console.print(tool_version(), highlight=False)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version_option, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """desk-agent: a desktop GUI agent with a safe executor, driven by a local GLM-4.5V."""
err = Console(stderr=True, soft_wrap=True, emoji=False)



# shared options ------------------------------------------------------------------------------
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Approve every risky action without asking.")]
MaxStepsOpt = Annotated[int, typer.Option(help="Stop after this many actions.")]
MaxSecondsOpt = Annotated[float, typer.Option(help="Stop after this many seconds of wall-clock time.")]
RiskyOpt = Annotated[Optional[str], typer.Option(
    help="Comma-separated risky words that need confirmation "
         "(default: pay,buy,purchase,order,delete,remove,send,submit,transfer).")]
KillOpt = Annotated[str, typer.Option(help="Global hotkey that stops all input at once (pynput syntax).")]
NoKillOpt = Annotated[bool, typer.Option("--no-kill-hotkey", help="Run without the kill hotkey listener.")]
ModelUrlOpt = Annotated[Optional[str], typer.Option(
    help="OpenAI-compatible base URL serving GLM-4.5V (vLLM/SGLang), env AGENT_MODEL_URL.")]
ModelNameOpt = Annotated[Optional[str], typer.Option("--model", help="Served model name, env AGENT_MODEL (default glm-4.5v).")]
ApiKeyOpt = Annotated[Optional[str], typer.Option(help="API key of the model server, env AGENT_API_KEY.")]


def element_modeler():
    """The screen element model for a command that acts on this desktop: the accessibility tree when a
    bus answers, the visual parse always (``agent.elements.snapshot.ElementModeler.auto``)."""
    from agent.elements.snapshot import ElementModeler

    return ElementModeler.auto()


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print ``message`` as an error (it quotes file names, screen or model text: data, never markup)
    and return the ``typer.Exit`` to raise."""
    err.print(f"[bold red]error:[/] {shown(message)}")
    return typer.Exit(code)


def start_virtual(stack: ExitStack, size: str, *, accessibility: bool = True, view: bool = False,
                  view_control: bool = False) -> str:
    """Start Xvfb for this command only and point DISPLAY (and so pyautogui, mss, pynput) at it.
    With ``accessibility`` (the default) an AT-SPI bus runs on it too and its variables go into this
    process's environment, so the apps a command starts there publish their trees to the element
    model. A bus that cannot start is a note, not an error: the visual parse still works. ``view``
    serves the desktop to a browser (``start_view``) and prints the URL."""
    from agent.desktop import DesktopError, VirtualDesktop, parse_size

    try:
        desk = stack.enter_context(VirtualDesktop(parse_size(size)))
    except (DesktopError, ValueError) as e:
        raise fail(str(e))
    os.environ["DISPLAY"] = desk.display
    if accessibility:
        from agent.desktop.a11y_bus import apply_env, attach

        try:
            bus = attach(desk)
        except DesktopError as e:
            err.print(f"[dim]note: no accessibility bus on {desk.display} ({shown(e)}); elements come from pixels only[/]")
        else:
            stack.callback(apply_env(bus.env))
    if view or view_control:  # --view / --view-control: watch it live in a browser
        start_view(stack, desk.display, view_control)
    return desk.display


ViewOpt = Annotated[bool, typer.Option("--view", help="Watch the desktop live in a browser (noVNC on 127.0.0.1, "
                                                    "view only; needs x11vnc novnc websockify).")]
ViewControlOpt = Annotated[bool, typer.Option("--view-control", help="Let the browser viewer type and click too "
                                                                   "(implies --view).")]


def start_view(stack: ExitStack, display: str | None = None, control: bool = False, *,
               port: int | None = None, print_fn=None):
    """Serve ``display`` (default ``$DISPLAY``) to a browser for as long as ``stack`` lives and print
    the URL to open. One line in any command: ``if view: start_view(stack, display, view_control)``.
    Returns the ``LiveView``; a missing package or a server that does not start ends the command."""
    from agent.desktop.liveview import LiveView, LiveViewError

    try:
        view = stack.enter_context(LiveView(display or os.environ.get("DISPLAY", ""), control=control, port=port))
    except LiveViewError as e:
        raise fail(str(e))
    (print_fn or err.print)(view_line(view))
    return view


def view_line(view) -> str:
    """The line that tells a person where to watch (the URL holds the viewer's password)."""
    how = "watch and control" if view.control else "view only"
    return f"live view ({how}; keep this URL to yourself, it holds the password): {view.url}"


def report_after(folder, print_fn=None):
    """Write the HTML report of the trajectory in ``folder`` once a command is done with it and
    print where it is; a report that cannot be written is a warning, never a failed run (the
    trajectory is what counts). Returns the report's path or None. One line in any command:
    ``report_after(writer.folder)`` after ``writer.close(...)``."""
    from agent.trajectory import TrajectoryError
    from agent.trajectory.report import write_report

    show = print_fn or console.print
    try:
        path = write_report(folder)
    except (TrajectoryError, OSError, ValueError) as e:
        err.print(f"[yellow]note:[/] no report for {folder}: {shown(e)}")
        return None
    show(f"report: {path}")
    return path


def build_executor(*, dry_run: bool, yes: bool, max_steps: int, max_seconds: float, risky_words: str | None,
              kill_hotkey: str, no_kill_hotkey: bool, stack: ExitStack):
    from actions.backends import DryRunBackend, PyAutoGUIBackend
    from actions.errors import ActionError
    from actions.executor import Executor
    from actions.killswitch import KillSwitch, StopFlag
    from actions.safety import SafetyPolicy, TerminalConfirmer, word_list

    policy = SafetyPolicy(max_steps=max_steps, max_seconds=max_seconds, risky_words=word_list(risky_words))
    stop = StopFlag()
    if dry_run:
        backend = DryRunBackend()
    else:
        try:
            backend = PyAutoGUIBackend()
        except ActionError as e:
            raise fail(str(e))
        if not no_kill_hotkey:
            try:
                stack.enter_context(KillSwitch(stop, kill_hotkey))
            except (RuntimeError, ValueError) as e:
                raise fail(f"{e}. Pass --no-kill-hotkey to run without it (not recommended).")
            err.print(f"[dim]kill hotkey: {kill_hotkey} · fail-safe: move the mouse to a screen corner[/]")
    probe = None
    if not dry_run:  # the risky-action gate reads the live screen where each action lands
        from agent.elements.probe import LiveScreenProbe

        probe = LiveScreenProbe()
    return Executor(backend, policy, confirmer=TerminalConfirmer(assume_yes=yes), stop=stop, probe=probe)
