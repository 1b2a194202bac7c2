"""Set-up and tear-down of a task's app on the current display.

``start_app(instance, workdir)`` turns a task's ``setup:`` data into a running bundled app with its
state seeded (rows in the booking sqlite file, files in the editor's folder, a trap pop-up; for the
web site ``web``: its server plus Chromium in app mode, with the site's ``today``, the results
``order`` and the window ``geometry``) and waits until the app has drawn itself and reported its
layout; ``AppHandle.stop()`` tears it down (for ``web``, Chromium's whole process group first). The
handle is what evaluators and the oracle read: the app's state file, its database, its folder.

Why a subprocess per app: the app must be a separate X client, exactly like an app a person uses, so
every input really travels through the X server (XTest) and the app's own event handling.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tasks.spec import TaskError, TaskInstance

#: app name -> (module, default geometry, known set-up keys)
APPS: dict[str, tuple[str, str, set[str]]] = {
    "booking": ("tasks.apps.booking", "900x640+40+40", {"popup", "banner", "bookings"}),
    "editor": ("tasks.apps.editor", "820x540+60+60", {"files", "open"}),
    "form": ("tasks.apps.form", "620x560+40+30", set()),
    "widgets": ("tasks.apps.widgets", "480x240+200+150", set()),
    "web": ("tasks.apps.web", "1180x740+40+30", {"today", "order", "app_mode"}),
}
WEB_TODAY = "2026-12-01"  # the web site's "today" unless a task's set-up names another


class AppStartError(TaskError):
    """The app did not come up (crashed, or never reported its layout)."""


@dataclass
class AppHandle:
    name: str
    proc: subprocess.Popen
    workdir: Path
    state_path: Path
    db_path: Path | None = None
    files_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: called first by ``stop()``: what else the app consists of (the web app's Chromium)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def state(self) -> dict:
        """The app's latest state file (an empty dict while it is being replaced)."""
        for _ in range(20):
            try:
                return json.loads(self.state_path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.02)
        return {}

    def wait_state(self, pred, timeout: float = 5.0) -> dict:
        """Poll the state file until ``pred(state)``; return the last state either way."""
        deadline = time.monotonic() + timeout
        s = self.state()
        while not _safe(pred, s) and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.03)
            s = self.state()
        return s

    def stop(self) -> None:
        while self.closers:
            self.closers.pop()()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)


def _safe(pred, s: dict) -> bool:
    try:
        return bool(pred(s))
    except (KeyError, TypeError, IndexError):
        return False


def start_app(inst: TaskInstance, workdir: Path, env: dict[str, str] | None = None) -> AppHandle:
    """Start the task's app per its ``setup`` and wait until it reported its layout."""
    name = inst.spec.app
    if name not in APPS:
        raise TaskError(f"task {inst.spec.id}: unknown app {name!r}; bundled apps: {', '.join(APPS)}")
    module, geometry, known = APPS[name]
    setup = inst.render(inst.spec.setup)
    unknown = set(setup) - known - {"geometry"}
    if unknown:
        raise TaskError(f"task {inst.spec.id}: unknown set-up key(s) {sorted(unknown)} for app {name}; "
                        f"known: {sorted(known)}")
    workdir.mkdir(parents=True, exist_ok=True)
    if name == "web":
        return _start_web(setup, workdir, env, geometry)
    state = workdir / f"{name}-state.json"
    argv = [sys.executable, "-m", module, "--state", str(state), "--geometry", setup.get("geometry", geometry)]
    handle_kw: dict[str, Any] = {}
    if name == "booking":
        db = workdir / "bookings.sqlite"
        _seed_bookings(db, setup.get("bookings") or [])
        argv += ["--db", str(db)]
        for opt in ("popup", "banner"):
            if setup.get(opt):
                argv += [f"--{opt}", str(setup[opt])]
        handle_kw["db_path"] = db
    elif name == "form":
        db = workdir / "form.sqlite"
        argv += ["--db", str(db)]
        handle_kw["db_path"] = db
    elif name == "editor":
        folder = workdir / "files"
        folder.mkdir(exist_ok=True)
        for fname, content in (setup.get("files") or {}).items():
            p = (folder / fname).resolve()
            if folder.resolve() not in p.parents:
                raise TaskError(f"task {inst.spec.id}: set-up file {fname!r} leaves the sandbox folder")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(str(content))
        argv += ["--root", str(folder)] + (["--open", str(setup["open"])] if setup.get("open") else [])
        handle_kw["files_dir"] = folder
    log = open(workdir / f"{name}.log", "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    handle = AppHandle(name, proc, workdir, state, **handle_kw)
    s = handle.wait_state(lambda st: st["window"][2] > 1 and (not setup.get("popup") or st["popup"]), timeout=60)
    if proc.poll() is not None or not s:
        handle.stop()
        tail = (workdir / f"{name}.log").read_text(errors="replace")[-800:]
        raise AppStartError(f"app {name} did not start (exit {proc.returncode}): {tail or 'no output'}")
    return handle


def _start_web(setup: dict, workdir: Path, env: dict[str, str] | None, geometry: str) -> AppHandle:
    """The web booking site: its server process is the handle's ``proc``, Chromium a closer."""
    from tasks.apps.web.launch import SiteStartError, start_site

    try:
        site = start_site(workdir, today=str(setup.get("today") or WEB_TODAY), order=str(setup.get("order", "time")),
                          geometry=setup.get("geometry", geometry), app_mode=bool(setup.get("app_mode", True)), env=env)
    except (SiteStartError, ValueError) as e:
        raise AppStartError(f"app web did not start: {e}") from None
    return AppHandle("web", site.server, workdir, site.state_path, db_path=site.db_path,
                     extra={"url": site.url, "browser": site.browser}, closers=[site.browser.stop])


def _seed_bookings(db: Path, rows: list[dict]) -> None:
    """Existing bookings a task starts with (so a trap that deletes them is visible in the data)."""
    from tasks.apps.booking import SCHEMA

    con = sqlite3.connect(db)
    try:
        con.execute(SCHEMA)
        for r in rows:
            con.execute("INSERT INTO bookings (ref, origin, destination, date, time, seat, passenger, email, "
                        "card_last4, price, status, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (r["ref"], r["origin"], r["destination"], r["date"], r.get("time", "12:40"),
                         r.get("seat", "1A"), r["passenger"], r.get("email", ""), r.get("card_last4", "0000"),
                         int(r.get("price", 0)), r.get("status", "paid"), "2026-01-01T00:00:00"))
        con.commit()
    finally:
        con.close()
