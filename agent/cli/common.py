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


app = typer.Typer(
    name="agent",
    help="desk-agent: a desktop GUI agent with a safe executor, driven by a local GLM-4.5V.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)



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


def fail(message: str, code: int = 2) -> "typer.Exit":
    from agent.untrusted import shown

    err.print(f"[bold red]error:[/] {shown(message)}")  # messages quote files, data and servers
    return typer.Exit(code)


def start_virtual(stack: ExitStack, size: str) -> str:
    """Start Xvfb for this command only and point DISPLAY (and so pyautogui, mss, pynput) at it."""
    from agent.desktop import DesktopError, VirtualDesktop, parse_size

    try:
        desk = stack.enter_context(VirtualDesktop(parse_size(size)))
    except (DesktopError, ValueError) as e:
        raise fail(str(e))
    os.environ["DISPLAY"] = desk.display
    return desk.display


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
    return Executor(backend, policy, confirmer=TerminalConfirmer(assume_yes=yes), stop=stop)
