"""A self-contained HTML page for an evaluation run (``report.html`` next to ``results.jsonl``).

One page that opens offline (the stylesheet and script inline, thumbnails as data URIs): the totals,
a per-task table, and one row per run with its goal, ending, every check with what it found, the
last screen, and a link to that run's own trajectory report (``agent report``), which is written
next to its trajectory folder (``tasks/KEY/trajectory-report.html``). Failed runs are listed first
in a banner and the rows can be filtered (all / failed / passed).

Goals and app texts are untrusted data: the jinja2 templates autoescape everything, and every string
is masked (``{{secret:NAME}}`` shows as ``***``, live secret values are blanked) before rendering.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from actions import secrets
from agent.trajectory import TrajectoryError
from agent.trajectory.report import asset, template_env, write_report
from agent.trajectory.report_images import ImageStore
from agent.trajectory.report_view import deep_mask

TEMPLATES = Path(__file__).with_name("templates")


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.as_posix()


def _last_image(traj: Path) -> Path | None:
    imgs = sorted((traj / "images").glob("*-before.*"))
    return imgs[-1] if imgs else None


def trajectory_report(traj: Path) -> tuple[Path | None, str | None]:
    """Write a run's own report next to its trajectory: (the file, or None and why not)."""
    if not (traj / "steps.jsonl").is_file():
        return None, "no trajectory was written"
    try:
        return write_report(traj), None
    except (TrajectoryError, OSError, ValueError) as e:
        return None, f"report failed: {e}"


def _run_row(r: dict, out: Path, reports: bool) -> dict[str, Any]:
    traj = Path(r.get("trajectory") or "").resolve() if r.get("trajectory") else Path("")
    page, why = trajectory_report(traj) if reports and traj.name else (None, None)
    store = ImageStore(traj) if traj.name else None
    last = store.add(_last_image(traj)) if store is not None else None
    ok = bool(r.get("success"))
    problems = [f"{k.replace('_', ' ')}: {r[k]}" for k in ("error", "safety_stop") if r.get(k)]
    if not problems and r.get("reason") and r.get("ending") not in ("done", "fail"):
        what = "model error" if r.get("ending") == "model_error" else str(r.get("ending"))
        problems.append(f"{what}: {r['reason']}")  # e.g. the model server's own message
    return {"key": r.get("key") or f"{r.get('task')}-s{r.get('seed')}", "task": r.get("task", ""),
            "goal": r.get("goal", ""), "ending": str(r.get("ending")), "ok": ok,
            "cls": "ok" if ok else ("stop" if r.get("ending") == "stopped" else "bad"),
            "checks": r.get("checks") or [], "problems": problems, "steps": r.get("steps") or 0,
            "elapsed": r.get("elapsed_s"), "tokens": r.get("tokens") or 0,
            "report": _rel(page, out) if page else None, "report_missing": why,
            "trajectory": _rel(traj, out) if traj.name else None, "thumb": store.thumb(last) if store else "",
            "first_failed": problems[0] if problems else next(
                (f"{c.get('what')}: {c.get('detail')}" for c in r.get("checks") or [] if not c.get("ok")), "")}


def eval_html(out: Path, results: list[dict], summary: dict, title: str, *, reports: bool = True,
              interrupted: str | None = None) -> Path:
    """Write ``out/report.html`` (and, with ``reports``, each run's trajectory report); return its path.
    ``interrupted`` (a signal's name), or an ``interrupted`` block in the summary, puts a banner on top
    naming what was cut short and what never ran."""
    names = tuple(sorted(set(secrets.names_in(json.dumps(results, default=str)))))
    results, summary, title = deep_mask(results, names), deep_mask(summary, names), secrets.mask(title, names=names)
    rows = [_run_row(r, out, reports) for r in results]
    t = summary["total"]
    page = template_env(str(TEMPLATES)).get_template("eval.html.j2").render(
        title=title, total=t, tasks=summary["tasks"], runs=rows, failed=[r for r in rows if not r["ok"]],
        interrupted=_interruption(summary, interrupted),
        css=asset("report.css"), js=asset("report.js"), images_json="{}")
    path = out / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def _interruption(summary: dict, signal_name: str | None) -> dict | None:
    """What the banner of an interrupted run says (None for a run that finished)."""
    cut = summary.get("interrupted") or {}
    if not (signal_name or cut):
        return None
    t = summary["total"]
    return {"by": signal_name, "finished": cut.get("finished", t["runs"]), "planned": cut.get("planned", t["runs"]),
            "cut_short": list(cut.get("cut_short", [])), "never_ran": list(cut.get("never_ran", []))}
