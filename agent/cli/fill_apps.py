"""The bundled apps ``agent fill --app NAME`` starts first, so a new user can run an example at once.

* ``sample`` — the contact form (``tasks.apps.form``; labels left of fields; ``examples/form``);
* ``intake`` — the patient intake (``tasks.apps.intake``; labels above fields, a radio group,
  spinboxes, a 36-country read-only combobox, tick boxes, a notes box; ``examples/intake``);
* ``loan`` — the equipment loan (``tasks.apps.loan``; two columns of labels left of fields, a titled
  frame of radios, a 40-department combobox; ``examples/loan``);
* ``web`` — Rail&Go in Chromium (``tasks.apps.web``; autocomplete, calendar, results table, Pay;
  ``examples/web``), its clock fixed at ``WEB_TODAY``: its tree reaches the element model through the
  accessibility bus that ``--virtual`` starts (or your desktop's).

Each app stores what it receives in sqlite under the run folder; the command prints how many records
the store holds at the end, so a person can see the app's own count beside fill's. A CLI module, so it
may import ``tasks``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from agent.cli.common import fail


@dataclass(frozen=True)
class Bundled:
    module: str
    db: str
    landmark: str  # a text on the app's first screen: it is up once the element model shows it
    table: str
    what: str


#: Rail&Go's "today" under ``--app web``: fixed, so the example's dates stay bookable (90 days ahead).
WEB_TODAY = "2026-12-01"

APPS = {
    "sample": Bundled("tasks.apps.form", "sample.sqlite", "Contact details", "submissions", "submissions"),
    "intake": Bundled("tasks.apps.intake", "intake.sqlite", "Patient intake", "intakes", "intakes"),
    "loan": Bundled("tasks.apps.loan", "loan.sqlite", "Equipment loan", "loans", "loans"),
    "web": Bundled("tasks.apps.web", "bookings.sqlite", "Where are you going?", "bookings", "bookings"),
}


def count(db: Path, table: str) -> int:
    """Records in the app's store (0 before the app created its table)."""
    if not db.exists():
        return 0
    con = sqlite3.connect(str(db))
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def start(stack: ExitStack, name: str, out: Path, on_screen: Callable[[str], bool]) -> tuple[Path, Callable[[], str]]:
    """Start bundled app ``name`` (stopped with ``stack``); returns its store and a summary line
    maker, once ``on_screen(landmark)`` says its first screen shows."""
    app = APPS[name]
    out.mkdir(parents=True, exist_ok=True)
    if name == "web":
        from tasks.apps.web.launch import SiteStartError, start_site

        try:
            site = start_site(out / "web", today=WEB_TODAY, env=dict(os.environ))
        except SiteStartError as e:
            raise fail(f"the web app did not start: {e}", 1)
        stack.callback(site.stop)
        db = site.db_path
    else:
        db = out / app.db
        argv = [sys.executable, "-m", app.module, "--db", str(db)]
        if name in ("sample", "loan"):
            argv.append("--exit-with-parent")
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop() -> None:
            proc.kill()
            proc.wait(timeout=5)

        stack.callback(stop)
    deadline = time.monotonic() + 30
    while not on_screen(app.landmark):
        if name != "web" and proc.poll() is not None:
            raise fail(f"the {name} app exited: {proc.stderr.read().decode(errors='replace')[-400:]}", 1)
        if time.monotonic() > deadline:
            raise fail(f"the {name} app did not appear within 30 s", 1)
        time.sleep(0.2)
    return db, lambda: f"{name} app store {db}: {count(db, app.table)} {app.what}"


def shows(filler) -> Callable[[str], bool]:
    """``on_screen`` for ``start``: ``text`` is found on a fresh screen."""
    from agent.fill.script import Target
    from model.grounding import GroundingError

    def on_screen(text: str) -> bool:
        try:
            filler.finder.model(fresh=True)
            return filler.finder.find_now(Target(text=text), "any") is not None
        except GroundingError:  # there more than once
            return True
        except Exception:  # noqa: BLE001 - no screen yet, or a window half drawn
            return False

    return on_screen
