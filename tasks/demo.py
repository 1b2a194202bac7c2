"""``agent demo``: book a train ticket end to end on a virtual desktop, offline, and show the evidence.

No GPU, no network. On the virtual desktop the CLI started, the demo runs the bundled task
``booking.book_ticket`` (seed 0): it starts the booking app, and the oracle policy finds every field
and button **by what is on screen** (OCR + fuzzy text + label-to-field, ``model.ground_text``; no
pixel positions are written anywhere) and fills the search, the seat, the passenger form and the card
through the safe executor. The "Pay" click is the risky step: the executor asks, and the demo's
policy approves exactly that one action. The task's evaluator then reads the app's sqlite file,
not the demo's claim, and a trajectory plus an HTML report are left behind.

``agent demo --app web`` runs ``web.book_ticket`` (seed 0) on Rail&Go, the bundled web site, in
Chromium: station autocomplete, the calendar (the date is in the next month), the passengers
drop-down, a seat radio, the notes; the oracle grounds by the boxes the page reports (its DOM in
screen pixels), the card number is again a secret from the environment, the site's sqlite decides.

With a model (``agent demo --model-url URL --model glm-4.5v``) the same task runs through
``agent run``: GLM-4.5V reads the screenshots and decides every step; the same evaluator judges it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from agent.untrusted import shown

DEMO_TASK, DEMO_SEED = "booking.book_ticket", 0
#: --app -> (task, oracle grounding, how the grounding is described)
DEMOS = {
    "tk": (DEMO_TASK, "ocr-strict", "OCR of the screen (rapidocr, CPU)"),
    "web": ("web.book_ticket", "app", "the boxes the web page reports from its DOM (grounding=app)"),
}
CARD_ENV = "DESK_DEMO_CARD"  # the card number is a secret: typed from the environment, never written


def _fresh_folder(out: Path) -> Path:
    """``out`` if unused, else ``out-2``, ``out-3`` ...: a demo never overwrites an earlier run."""
    if not out.exists() or not any(out.iterdir()):
        return out
    n = 2
    while (out.parent / f"{out.name}-{n}").exists():
        n += 1
    return out.parent / f"{out.name}-{n}"


def _report(folder: Path) -> Path:
    """The ``agent report`` page of the demo's trajectory (its checks from ``result.json`` included)."""
    from agent.trajectory.report import write_report

    return write_report(folder)


def run_demo(out: Path, console: Console, *, model_url: str | None = None, model: str | None = None,
             yes: bool = False, app: str = "tk") -> int:
    from tasks.spec import TaskInstance, load_specs, render

    if app not in DEMOS:
        raise ValueError(f"unknown demo app {app!r}: use {' or '.join(DEMOS)}")
    task, grounding, how = DEMOS[app]
    inst = load_specs()[task].instantiate(DEMO_SEED)
    os.environ.setdefault(CARD_ENV, inst.params["card"])
    # every parameter that holds the number (the web task also draws it inside a pair) gets the placeholder
    hidden = json.dumps(inst.params).replace(json.dumps(inst.params["card"])[1:-1], "{{secret:%s}}" % CARD_ENV)
    params = json.loads(hidden)
    inst = TaskInstance(inst.spec, inst.seed, params, render(inst.spec.goal, params))
    out = _fresh_folder(out)
    console.print(f"[bold]desk-agent demo[/] on DISPLAY={os.environ.get('DISPLAY')}\n[bold]goal:[/] {shown(inst.goal)}")
    if model_url or model:
        return _with_model(inst, out, console, model_url, model, yes)
    return _offline(inst, out, console, grounding, how)


def _offline(inst, out: Path, console: Console, grounding: str, how: str) -> int:
    from tasks.worker import run_on_display

    console.print(f"[dim]policy: scripted oracle · grounding: {how} · the Pay step is approved by the policy[/]")

    def show(action, o) -> None:
        t = o.timings
        mark = "[green]ok[/]" if o.result.ok else f"[red]{o.result.error}[/]"
        risky = " [yellow](risky: approved)[/]" if o.result.approved_risky else ""
        console.print(f"  {o.index:>2} {shown(action.describe(), 90)} → {mark}{risky} "
                      f"[dim]execute {t.get('execute_s', 0) * 1e3:.0f} ms, settle {t.get('settle_s', 0) * 1e3:.0f} ms[/]")

    r = run_on_display(inst, out, policy="oracle", grounding=grounding, approve=True, on_act=show)
    return _finish(r, out, console)


def _with_model(inst, out: Path, console: Console, model_url: str | None, model: str | None, yes: bool) -> int:
    from agent.trajectory import read_trajectory
    from tasks.checks import evaluate, passed
    from tasks.environment import start_app

    app = start_app(inst, out / "app")
    try:
        argv = [sys.executable, "-m", "agent", "run", inst.goal, "--out", str(out / "trajectory")]
        argv += ["--model-url", model_url] if model_url else []
        argv += ["--model", model] if model else []
        argv += ["--yes"] if yes else []
        console.print(f"[dim]running: agent run … (the Pay step {'is approved by --yes' if yes else 'asks you'})[/]")
        code = subprocess.call(argv)
        status = (read_trajectory(out / "trajectory").manifest or {}).get("status", {}) \
            if (out / "trajectory" / "meta.json").exists() else {}
        ending = {"stopped": "stopped"}.get(status.get("status"), status.get("status") or f"exit {code}")
        checks = evaluate(inst, app, ending)
    finally:
        app.stop()
    r = {"success": passed(checks), "ending": ending, "checks": [c.to_json() for c in checks],
         "trajectory": str(out / "trajectory")}
    (out / "result.json").write_text(json.dumps(r, indent=1))
    return _finish(r, out, console)


def _finish(r: dict, out: Path, console: Console) -> int:
    from agent.trajectory import verify

    for c in r.get("checks", []):
        console.print(f"  check {'[green]✓[/]' if c['ok'] else '[red]✗[/]'} {shown(c['what'])} [dim]({shown(c['detail'])})[/]")
    if r.get("error"):
        console.print(f"[red]error:[/] {shown(r['error'])}")
    traj = Path(r["trajectory"])
    problems = verify(traj) if (traj / "meta.json").exists() else ["no trajectory written"]
    page = _report(traj) if not problems else None
    console.print(f"database: {shown(out / 'app' / 'bookings.sqlite')}")
    console.print(f"trajectory: {shown(traj)}  ({'verified' if not problems else shown('; '.join(problems))})")
    if page:
        console.print(f"report: {shown(page)}")
    secret = os.environ.get(CARD_ENV, "").encode()
    leaked = [str(p) for p in out.rglob("*") if secret and p.is_file() and secret in p.read_bytes()]
    console.print(f"secret in files written: {'[red]YES ' + shown(', '.join(leaked)) + '[/]' if leaked else 'no'}")
    ok = bool(r.get("success")) and not problems and not leaked
    console.print("[bold green]demo passed: the ticket is in the database[/]" if ok else "[bold red]demo failed[/]")
    return 0 if ok else 1
