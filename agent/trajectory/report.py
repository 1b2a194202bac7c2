"""``agent report``: one self-contained HTML file for any trajectory (run, do, fill, record, replay,
eval, demo), built like a trace viewer: the verdict and totals first, a step index with thumbnails
and filters (all / errors / risky / healed), the first error linked at the top, and per step the
screens before and after with the target marked, the action in words, the element acted on, the
risky-action gate's evidence, the model's side and the timings.

Why one file with everything inline (images as data URIs, CSS and script in the page, a Content
Security Policy that forbids any fetch): a report is what a person mails to a colleague or attaches
to a ticket when a run went wrong, so it must open offline, anywhere, without the folder next to it.

What is shown is decided in ``report_view`` / ``report_steps`` (masked data); how it looks is the
jinja2 templates in ``agent/trajectory/templates`` (autoescaped). ``template_env`` is public so
other pages (``tasks.eval_report``) share the stylesheet, the script and the macros.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2

from agent.trajectory.report_view import build, secret_names

TEMPLATES = Path(__file__).with_name("templates")

__all__ = ["TEMPLATES", "asset", "images_json", "render", "secret_names", "template_env", "write_report"]


@lru_cache(maxsize=8)
def template_env(*extra_dirs: str) -> jinja2.Environment:
    """The report pages' jinja2 environment: autoescaped HTML, undefined names are errors; the
    templates of ``extra_dirs`` first, then this package's."""
    loader = jinja2.FileSystemLoader([*extra_dirs, str(TEMPLATES)])
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=False, lstrip_blocks=False)


@lru_cache(maxsize=4)
def asset(name: str) -> str:
    """The text of a shared asset (``report.css``, ``report.js``) to inline in a page."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def images_json(images: dict[str, str]) -> str:
    """The image store as JSON safe inside ``<script type="application/json">`` (no ``</script>``)."""
    return json.dumps(images).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(folder: str | Path, *, full_width: int | None = None) -> str:
    """The report's HTML text for the trajectory in ``folder``."""
    view = build(folder, full_width=full_width)
    page = template_env().get_template("trajectory.html.j2")
    return page.render(**view, css=asset("report.css"), js=asset("report.js"), images_json=images_json(view["images"]))


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report; by default next to the folder (``NAME-report.html``), which leaves a sealed
    trajectory's manifest valid. Returns the file written."""
    folder = Path(folder)
    target = Path(out) if out else folder.parent / f"{folder.name}-report.html"
    html = render(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target
