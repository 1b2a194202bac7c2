"""A self-contained HTML page for an evaluation run (``report.html`` next to ``results.jsonl``).

One page, no JavaScript, no network: the totals, a per-task table and one row per run with its goal,
ending, every check with what was found, and links to the run's trajectory folder and last
screenshot. Everything shown is HTML-escaped, since goals and app texts are untrusted data.
A short trajectory page for a single run (the demo's) is ``trajectory_html``.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
.ok{color:#080;font-weight:600}.bad{color:#b00;font-weight:600}.dim{color:#777}img{max-width:420px;border:1px solid #ccc}"""


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.0f}%"


def _num(x: Any, fmt: str = "{:.2f}") -> str:
    return "" if x is None else fmt.format(x)


def _rel(path: str | Path, base: Path) -> str:
    try:
        return escape(os.path.relpath(Path(path).resolve(), base.resolve()))
    except ValueError:
        return escape(str(path))


def _last_image(traj: Path) -> Path | None:
    imgs = sorted((traj / "images").glob("*.png")) + sorted((traj / "images").glob("*.jpg"))
    return imgs[-1] if imgs else None


def eval_html(out: Path, results: list[dict], summary: dict, title: str, interrupted: str | None = None) -> Path:
    """The page; ``interrupted`` (a signal's name) puts a banner on top naming what was cut short and
    what never ran."""
    t = summary["total"]
    cut = summary.get("interrupted", {})
    banner = ""
    if interrupted or cut:
        banner = (f"<p class=bad>INTERRUPTED{f' by {escape(interrupted)}' if interrupted else ''}: "
                  f"{cut.get('finished', t['runs'])} of {cut.get('planned', t['runs'])} tasks finished · cut short: "
                  f"{escape(', '.join(cut.get('cut_short', [])) or 'none')} · never ran: "
                  f"{escape(', '.join(cut.get('never_ran', [])) or 'none')}. The rates below count finished tasks only.</p>")
    rows = [f"<h1>{escape(title)}{' (interrupted)' if banner else ''}</h1>", banner,
            f"<p><b>{t['successes']}/{t['runs']}</b> succeeded ({_pct(t['success_rate'])}) · mean steps "
            f"{t['mean_steps']:.1f} · time per step {_num(t['time_per_step_s'])} s · model tokens {t['tokens']} · "
            f"safety stops {t['safety_stops']} · harness errors {t['errors']}"
            + (f" · wall {t['wall_s']} s ({t.get('tasks_per_minute')} tasks/min)" if "wall_s" in t else "") + "</p>",
            "<h2>Tasks</h2><table><tr><th>task</th><th>runs</th><th>success</th><th>mean steps</th>"
            "<th>s/step</th><th>tokens</th><th>safety stops</th></tr>"]
    for name, a in summary["tasks"].items():
        cls = "ok" if a["success_rate"] == 1 else "bad"
        rows.append(f"<tr><td>{escape(name)}</td><td>{a['runs']}</td><td class={cls}>{_pct(a['success_rate'])}</td>"
                    f"<td>{a['mean_steps']:.1f}</td><td>{_num(a['time_per_step_s'])}</td><td>{a['tokens']}</td>"
                    f"<td>{a['safety_stops']}</td></tr>")
    rows.append("</table><h2>Runs</h2><table><tr><th>run</th><th>goal</th><th>ending</th><th>checks</th>"
                "<th>last screen</th></tr>")
    for r in results:
        traj = Path(r.get("trajectory", ""))
        img = _last_image(traj) if traj.name else None
        checks = "<br>".join(
            f"<span class={'ok' if c['ok'] else 'bad'}>{'✓' if c['ok'] else '✗'}</span> {escape(c['what'][:160])} "
            f"<span class=dim>{escape(c['detail'][:200])}</span>" for c in r.get("checks", []))
        if r.get("error"):
            checks += f"<br><span class=bad>error:</span> {escape(str(r['error'])[:400])}"
        elif r.get("reason") and r.get("ending") not in ("done",):
            what = "model error" if r.get("ending") == "model_error" else escape(str(r.get("ending")))
            checks += f"<br><span class=bad>{what}:</span> {escape(str(r['reason'])[:600])}"
        if r.get("safety_stop"):
            checks += f"<br><span class=bad>safety stop:</span> {escape(str(r['safety_stop'])[:200])}"
        cls = "ok" if r.get("success") else "bad"
        rows.append(f"<tr><td class={cls}>{escape(r['key'])}<br><a href='{_rel(traj, out)}'>trajectory</a></td>"
                    f"<td>{escape(r.get('goal', ''))}</td><td>{escape(str(r.get('ending')))}"
                    f"<br><span class=dim>{r.get('steps', '')} steps</span></td><td>{checks}</td>"
                    f"<td>{f'<img src={chr(39)}{_rel(img, out)}{chr(39)}>' if img else ''}</td></tr>")
    rows.append("</table>")
    path = out / "report.html"
    path.write_text(f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title><style>{_CSS}</style>"
                    + "\n".join(rows))
    return path


def trajectory_html(folder: Path, title: str, path: Path | None = None) -> Path:
    """A minimal page for one trajectory: each step's action, thought, result and screenshot."""
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").exists() else {}
    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines() if line.strip()]
    path = path or folder.parent / f"{folder.name}-report.html"  # outside: keeps the manifest valid
    rows = [f"<h1>{escape(title)}</h1><p>{escape(str(meta.get('goal', '')))}</p><table>"
            "<tr><th>#</th><th>action</th><th>thought</th><th>ok</th><th>screen before</th></tr>"]
    for i, s in enumerate(steps):
        shot = s.get("screenshot")
        img = f"<img src='{_rel(folder / shot, path.parent)}'>" if shot else ""
        rows.append(f"<tr><td>{i}</td><td>{escape(json.dumps(s.get('action')))}</td><td>{escape(str(s.get('thought') or ''))}"
                    f"</td><td class={'ok' if s.get('ok') else 'bad'}>{s.get('ok')}</td><td>{img}</td></tr>")
    rows.append("</table>")
    path.write_text(f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title><style>{_CSS}</style>"
                    + "\n".join(rows))
    return path
