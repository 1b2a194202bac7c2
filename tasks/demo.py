"""``agent demo``: the offline demo of the foundation.

It needs no GPU and no network. On the virtual desktop the CLI started, it opens the bundled widgets
app (``tasks.apps.widgets``), clicks its button, types into its entry (including a
``{{secret:...}}`` placeholder, which is resolved only while typing), ticks its checkbox and ends with
``done``, all through the safe executor with settle waits and a trajectory on disk. The app's own state
file decides whether the demo passed, and the demo then proves that the secret is in no file it wrote.

Until the grounders land (issue #5) the demo asks the app where its widgets are. Later it books a
ticket in the booking app by what is on screen.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from actions.backends import PyAutoGUIBackend
from actions.errors import SafetyStop
from actions.executor import Executor
from actions.killswitch import KillSwitch, StopFlag
from actions.safety import SafetyPolicy, TerminalConfirmer
from actions.space import Click, Done, TypeText
from agent.screen import Screen
from agent.steps import StepRunner
from agent.trajectory import TrajectoryWriter, verify
from tasks.apps.widgets import TITLE

SECRET_ENV = "DESK_DEMO_PASSWORD"


def _read_state(path: Path, timeout: float = 10.0, pred=lambda s: True) -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        try:
            last = json.loads(path.read_text())
            if pred(last):
                return last
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    return last


def _centre(box: list[int]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _fresh_folder(out: Path) -> Path:
    """``out`` if unused, else ``out-2``, ``out-3`` ...: a demo never overwrites an earlier run."""
    if not (out / "steps.jsonl").exists():
        return out
    n = 2
    while (out.parent / f"{out.name}-{n}" / "steps.jsonl").exists():
        n += 1
    return out.parent / f"{out.name}-{n}"


def run_demo(out: Path, console: Console) -> int:
    os.environ.setdefault(SECRET_ENV, "demo-" + pysecrets.token_hex(6))
    out = _fresh_folder(out)
    with tempfile.TemporaryDirectory(prefix="desk-demo-") as tmp:
        state = Path(tmp) / "widgets.json"
        app = subprocess.Popen([sys.executable, "-m", "tasks.apps.widgets", "--state", str(state),
                                "--geometry", "480x240+200+150"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            return _drive(app, state, out, console)
        finally:
            app.kill()
            app.wait(timeout=5)


def _drive(app: subprocess.Popen, state: Path, out: Path, console: Console) -> int:
    s = _read_state(state, pred=lambda st: st.get("widgets", {}).get("button", [0, 0, 0])[2] > 1)
    if not s:
        console.print(f"[red]the widgets app did not start:[/] {app.stderr.read().decode()[-500:] if app.poll() is not None else 'timeout'}")
        return 1
    w = s["widgets"]
    plan = [
        (Click(*_centre(w["button"]), target="Click me"), "press the button"),
        (Click(*_centre(w["entry"]), target="text entry"), "focus the entry"),
        (TypeText("Hello from desk-agent, pw={{secret:%s}}" % SECRET_ENV), "type a text with a secret"),
        (Click(*_centre(w["checkbox"]), target="Subscribe"), "tick the checkbox"),
        (Done("widgets set"), "finished"),
    ]
    stop = StopFlag()
    ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=20, max_seconds=60),
                  confirmer=TerminalConfirmer(), stop=stop)
    console.print(f"[bold]desk-agent demo[/] on DISPLAY={os.environ.get('DISPLAY')} — app '{TITLE}'")
    status = {"ok": False}
    with Screen() as screen, KillSwitch(stop), TrajectoryWriter(out, kind="demo", meta={
            "goal": "click the button, type a greeting, tick the checkbox", "app": TITLE}) as writer:
        runner = StepRunner(ex, screen, writer)
        try:
            for action, thought in plan:
                o = runner.act(action, thought=thought)
                t = o.timings
                console.print(f"  {o.index}: {action.describe()} -> {'ok' if o.result.ok else o.result.error} "
                              f"[dim](execute {t.get('execute_s', 0) * 1e3:.0f} ms, settle {t.get('settle_s', 0) * 1e3:.0f} ms)[/]")
                if not o.result.ok:
                    break
        except SafetyStop as e:
            console.print(f"[red]stopped:[/] {e}")
        final = _read_state(state, timeout=3, pred=lambda st: st.get("checked") and st.get("clicks") == 1)
        expected_text = "Hello from desk-agent, pw=" + os.environ[SECRET_ENV]
        ok = final.get("clicks") == 1 and final.get("checked") is True and final.get("text") == expected_text
        status = {"ok": ok, "app_state": {"clicks": final.get("clicks"), "checked": final.get("checked"),
                                          "text_length": len(final.get("text", ""))}}
        writer.close(status)
    leaked = [str(p) for p in out.rglob("*") if p.is_file() and os.environ[SECRET_ENV].encode() in p.read_bytes()]
    problems = verify(out)
    console.print(f"app state: clicks={final.get('clicks')} checked={final.get('checked')} "
                  f"text={'as typed' if final.get('text') == expected_text else repr(final.get('text'))}")
    console.print(f"secret in files written: {'[red]YES ' + ', '.join(leaked) + '[/]' if leaked else 'no'}")
    console.print(f"trajectory: {out}  ({'verified' if not problems else '; '.join(problems)})")
    console.print("[bold green]demo passed[/]" if ok and not leaked and not problems else "[bold red]demo failed[/]")
    return 0 if ok and not leaked and not problems else 1
