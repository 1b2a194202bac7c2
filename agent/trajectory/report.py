"""``agent report``: one self-contained HTML file for any trajectory (record, replay, run, do, fill).

Why one file with embedded images: a report is what a person mails to a colleague or attaches to a
ticket when a replay stopped, so it must open offline, anywhere, without the folder next to it.
Screenshots are re-encoded as JPEG at most ``max_width`` wide (a 20-step recording stays around a
megabyte) and embedded as data URIs; click markers are CSS circles placed in percent of the image, so
they stay on target at any zoom.

Everything textual goes through ``actions.secrets.mask`` and ``html.escape``: a placeholder shows as
``***`` and a live secret value that slipped into a thought or an error is blanked too.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from PIL import Image

from actions import secrets
from agent.trajectory import Trajectory, read_trajectory

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}
header .meta{opacity:.8;font-size:13px}main{padding:16px 24px;max-width:1100px}
.step{background:#fff;border-radius:8px;margin:0 0 16px;padding:12px 16px;box-shadow:0 1px 3px #0002}
.step h2{font-size:15px;margin:0 0 6px}.ok{color:#17803d}.bad{color:#c62828}.stop{color:#b26a00}
.shot{position:relative;display:inline-block;max-width:100%}.shot img{max-width:100%;display:block;border:1px solid #ccd}
.mark{position:absolute;width:26px;height:26px;margin:-13px 0 0 -13px;border:3px solid #e53935;border-radius:50%;
box-shadow:0 0 0 2px #fff8}.mark.end{border-color:#1e88e5}
.crop{border:1px solid #ccd;vertical-align:top;margin-left:8px}
code{background:#eef0f4;padding:1px 4px;border-radius:3px}.dim{color:#667}.problems{color:#b26a00}
table.t{border-collapse:collapse;font-size:12px}table.t td{padding:1px 8px 1px 0}
"""


_NAMES: tuple[str, ...] = ()  # secret names of the trajectory being rendered (see ``render``)


def _esc(value) -> str:
    return html.escape(secrets.mask(str(value), names=_NAMES))


def secret_names(t: Trajectory) -> tuple[str, ...]:
    """Every secret the trajectory refers to: its placeholders and the steps recorded as secret, so a
    value echoed in a thought or an error is blanked even though nothing was typed in this process."""
    names: set[str] = set()
    for s in t.steps:
        names.update(secrets.names_in(json.dumps(s.get("action") or {})))
        if isinstance(s.get("secret"), str):
            names.add(s["secret"])
    return tuple(sorted(names))


def _data_uri(path: Path, max_width: int) -> str | None:
    try:
        img = Image.open(path).convert("RGB")
    except OSError:
        return None
    if img.width > max_width:
        img = img.resize((max_width, round(img.height * max_width / img.width)), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=72)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _markers(step: dict) -> list[tuple[float, float, str]]:
    """Action points as percent of the screenshot (via the step's screen_area and image_size)."""
    a, area = step.get("action") or {}, step.get("screen_area")
    if not area or not area[2] or not area[3]:
        return []
    pts = []
    if a.get("type") == "drag":
        pts = [(a.get("x1"), a.get("y1"), ""), (a.get("x2"), a.get("y2"), " end")]
    elif a.get("x") is not None:
        pts = [(a.get("x"), a.get("y"), "")]
    return [((x - area[0]) / area[2] * 100, (y - area[1]) / area[3] * 100, cls)
            for x, y, cls in pts if isinstance(x, (int, float)) and isinstance(y, (int, float))]


def _step_html(t: Trajectory, step: dict, max_width: int) -> str:
    a = step.get("action") or {}
    kind = a.get("type", "?")
    if step.get("safety_stop"):
        state = f'<span class="stop">safety stop: {_esc(step["safety_stop"])}</span>'
    elif step.get("ok") is False or step.get("error"):
        state = f'<span class="bad">failed: {_esc(step.get("error") or "")}</span>'
    else:
        state = '<span class="ok">ok</span>'
    args = {k: v for k, v in a.items() if k != "type" and v is not None}
    parts = [f'<section class="step" id="s{step.get("index")}"><h2>#{_esc(step.get("index"))} '
             f'<code>{_esc(kind)}</code> {_esc(json.dumps(args, ensure_ascii=False))} — {state}</h2>']
    anchor = step.get("anchor") or {}
    facts = [("thought", step.get("thought")), ("target text", anchor.get("text")), ("field label", anchor.get("label")),
             ("window", (anchor.get("window") or {}).get("title")), ("typed value", step.get("var")),
             ("secret", step.get("secret")), ("replay of step", step.get("replay_of")),
             ("grounding", step.get("grounding")), ("settled", step.get("settled"))]
    timings = step.get("timings") or {}
    if timings:
        facts.append(("timings", " · ".join(f"{k[:-2] if k.endswith('_s') else k} {v * 1000:.0f} ms"
                                            for k, v in timings.items() if isinstance(v, (int, float)))))
    rows = "".join(f"<tr><td class=dim>{k}</td><td>{_esc(v if not isinstance(v, dict) else json.dumps(v))}</td></tr>"
                   for k, v in facts if v not in (None, "", {}))
    if rows:
        parts.append(f'<table class="t">{rows}</table>')
    shot = step.get("screenshot")
    uri = _data_uri(t.folder / shot, max_width) if shot else None
    if uri:
        marks = "".join(f'<div class="mark{cls}" style="left:{x:.2f}%;top:{y:.2f}%"></div>'
                        for x, y, cls in _markers(step))
        parts.append(f'<div class="shot"><img alt="screenshot before step {_esc(step.get("index"))}" '
                     f'src="{uri}">{marks}</div>')
    crop = anchor.get("crop")
    curi = _data_uri(t.folder / crop, 400) if crop else None
    if curi:
        parts.append(f'<img class="crop" title="replay anchor (recorded crop)" src="{curi}">')
    parts.append("</section>")
    return "".join(parts)


def render(folder: str | Path, *, max_width: int = 960) -> str:
    """The report's HTML text for the trajectory in ``folder``."""
    global _NAMES
    t = read_trajectory(folder)
    _NAMES = secret_names(t)
    meta, man = t.meta, t.manifest or {}
    status = man.get("status") or {}
    title = f"{meta.get('kind', 'trajectory')}: {meta.get('goal') or t.folder.name}"
    head = [f"{len(t.steps)} steps", f"created {meta.get('created', '?')}",
            f"screen {'x'.join(map(str, meta['screen']))}" if meta.get("screen") else None,
            "sealed" if t.sealed else "NOT sealed (cut short?)",
            f"replay of {meta['replay_of']}" if meta.get("replay_of") else None]
    summary = ""
    if status:
        ok = status.get("ok")
        cls = "ok" if ok else "bad"
        detail = status.get("reason") or status.get("safety_stop") or status.get("error") or ""
        summary = f'<p class="{cls}"><b>{"success" if ok else "stopped"}</b> {_esc(detail)}</p>'
    problems = "".join(f"<li>{_esc(p)}</li>" for p in t.problems)
    body = "".join(_step_html(t, s, max_width) for s in t.steps)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
            f"<style>{CSS}</style></head><body><header><h1>{_esc(title)}</h1><div class='meta'>"
            f"{_esc(' · '.join(h for h in head if h))}</div></header><main>{summary}"
            f"{f'<ul class=problems>{problems}</ul>' if problems else ''}{body}</main></body></html>")


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report; by default next to the folder (``NAME-report.html``), which leaves a sealed
    trajectory's manifest valid."""
    folder = Path(folder)
    target = Path(out) if out else folder.parent / f"{folder.name}-report.html"
    target.write_text(render(folder), encoding="utf-8")
    return target
