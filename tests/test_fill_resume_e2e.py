"""`agent fill --resume` after `kill -9`: nothing stored twice, nothing lost.

The real CLI on Xvfb drives the real sample Tk form; the fill process is killed with SIGKILL at a
moment read from the app's own sqlite store (right after a row's Save landed) or from the
trajectory's steps.jsonl (half-way through a row), never after a sleep. The store is the judge:
exactly one stored submission per person."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.apps.form import TITLE, read_submissions

pytestmark = pytest.mark.display

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "form"


def _env(xdisplay) -> dict:
    env = {k: v for k, v in xdisplay.env.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    return env


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", "fill", *args, "--no-kill-hotkey", "--settle-ms", "70"]


def fill(xdisplay, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(_argv(*args), capture_output=True, text=True, env=_env(xdisplay),
                          stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT)


def start_fill(xdisplay, *args: str, log: Path) -> subprocess.Popen:
    f = log.open("w")
    return subprocess.Popen(_argv(*args), stdout=f, stderr=subprocess.STDOUT, env=_env(xdisplay),
                            stdin=subprocess.DEVNULL, cwd=ROOT)


def kill_when(p: subprocess.Popen, ready, what: str, log: Path, timeout: float = 200) -> None:
    """SIGKILL ``p`` the moment ``ready()`` holds (polled, no sleep decides the moment)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if p.poll() is not None:
            pytest.fail(f"the fill ended (exit {p.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"{what} did not happen within {timeout:g} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL


def steps(out: Path) -> list[dict]:
    """The trajectory's steps so far (a line being written right now is not one yet)."""
    path = out / "trajectory" / "steps.jsonl"
    found = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            found.append(json.loads(line))
        except ValueError:
            pass
    return found


def ledger(out: Path) -> dict[int, dict]:
    return {r["row"]: r for r in json.loads((out / "results.json").read_text())["rows"]}


def three_people(tmp_path: Path) -> tuple[Path, list[dict]]:
    rows = list(csv.DictReader((EXAMPLE / "people.csv").open()))[:3]
    data = tmp_path / "rows.csv"
    with data.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return data, rows


def as_stored(row: dict) -> dict:
    yes = {"yes": 1, "no": 0}
    return {**{k: row[k] for k in ("first_name", "last_name", "email", "phone", "birth_date", "country")},
            "newsletter": yes[row["newsletter"]], "terms": yes[row["terms"]]}


def form_apps(db: Path) -> list[int]:
    """Pids of sample form apps serving ``db``."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"tasks.apps.form" in cmd and str(db).encode() in cmd and state != "Z":
                out.append(int(d.name))
    return out


def test_kill_9_after_save_then_resume_reports_the_row_uncertain_and_stores_nothing_twice(xdisplay, tmp_path):
    """No ``already_done`` check: the row cut after its Save is not redone; it is reported uncertain
    with its key, the exit code asks for a person, and every person is stored exactly once."""
    data, rows = three_people(tmp_path)
    script = re.sub(r"(?m)^already_done:.*\n", "", (EXAMPLE / "fill.yaml").read_text())
    (tmp_path / "fill.yaml").write_text(script)
    out, log = tmp_path / "run", tmp_path / "fill-1.log"
    db = out / "sample.sqlite"

    p = start_fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--app", "sample", "--out", str(out),
                   log=log)
    kill_when(p, lambda: len(read_submissions(db)) >= 2, "row 2 was saved", log)
    led = ledger(out)
    assert led[1]["status"] == "ok"
    assert led[2]["status"] == "running", f"the kill came after row 2 was recorded: {led[2]}"
    assert led[2]["key"] == rows[1]["email"]
    deadline = time.monotonic() + 15  # the sample app went with its fill
    while form_apps(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert form_apps(db) == []

    r = fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--app", "sample", "--out", str(out),
             "--resume")
    assert r.returncode == 4, r.stdout[-3000:] + r.stderr[-3000:]
    assert [s["email"] for s in read_submissions(db)] == [x["email"] for x in rows]  # each person once
    led = ledger(out)
    assert [led[n]["status"] for n in (1, 2, 3)] == ["ok", "uncertain", "ok"]
    assert led[2]["key"] == rows[1]["email"] and "in progress" in led[2]["error"]
    assert "uncertain" in r.stdout and rows[1]["email"] in r.stdout
    with (out / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [(x["row"], x["key"], x["status"]) for x in table] == [
        ("1", rows[0]["email"], "ok"), ("2", rows[1]["email"], "uncertain"), ("3", rows[2]["email"], "ok")]
    assert json.loads((out / "results.json").read_text())["meta"]["key_column"] == "email"

    r = fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--out", str(out), "--resume")
    assert r.returncode == 4, r.stdout[-3000:] + r.stderr[-3000:]  # still needs a person; nothing redone
    assert len(read_submissions(db)) == 3 and ledger(out)[2]["status"] == "uncertain"


def test_resume_with_already_done_skips_a_saved_row_and_redoes_an_unsaved_one(xdisplay, spawn_window, tmp_path):
    """The example script's ``already_done: "{email}"`` (the saved list shows the email): a row cut
    after its Save is found there and skipped; a row cut half-way (its input left in the form) is not
    found, the form is reset, and the row is done again — every person stored exactly once."""
    data, rows = three_people(tmp_path)
    script = EXAMPLE / "fill.yaml"
    assert re.search(r'(?m)^already_done: "\{email\}"', script.read_text())
    db = tmp_path / "form.sqlite"
    spawn_window([sys.executable, "-m", "tasks.apps.form", "--db", str(db)], title=TITLE)  # a person's app: stays up
    out = tmp_path / "run"

    log = tmp_path / "fill-1.log"
    p = start_fill(xdisplay, str(script), "--data", str(data), "--out", str(out), log=log)
    kill_when(p, lambda: len(read_submissions(db)) >= 1, "row 1 was saved", log)
    assert ledger(out)[1]["status"] == "running"

    log = tmp_path / "fill-2.log"
    p = start_fill(xdisplay, str(script), "--data", str(data), "--out", str(out), "--resume", log=log)
    kill_when(p, lambda: any(s.get("row") == 2 and (s.get("step") or 0) >= 4 for s in steps(out)),
              "row 2 typed its email", log)
    assert [s["email"] for s in read_submissions(db)] == [rows[0]["email"]]  # row 1 was not stored again
    led = ledger(out)
    assert led[1]["status"] == "ok" and "already done" in led[1]["note"]
    assert led[2]["status"] == "running"

    r = fill(xdisplay, str(script), "--data", str(data), "--out", str(out), "--resume")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stored = read_submissions(db)
    assert [s["email"] for s in stored] == [x["email"] for x in rows]
    for want, got in zip(rows, stored):  # the reset emptied row 2's leftovers before it was done again
        assert {k: got[k] for k in as_stored(want)} == as_stored(want)
    led = ledger(out)
    assert [led[n]["status"] for n in (1, 2, 3)] == ["ok", "ok", "ok"]
    assert "already done" in led[1]["note"] and "redone" in led[2]["note"]


def test_a_row_cut_half_way_is_held_without_a_check_and_redo_uncertain_runs_it(xdisplay, spawn_window, tmp_path):
    """No ``already_done``: a row cut half-way is held for a person, and its leftovers in the form do
    not leak into the next row (the reset steps run first); ``--redo-uncertain`` then runs it."""
    data, rows = three_people(tmp_path)
    script = re.sub(r"(?m)^already_done:.*\n", "", (EXAMPLE / "fill.yaml").read_text())
    (tmp_path / "fill.yaml").write_text(script)
    db = tmp_path / "form.sqlite"
    spawn_window([sys.executable, "-m", "tasks.apps.form", "--db", str(db)], title=TITLE)
    out, log = tmp_path / "run", tmp_path / "fill-1.log"

    p = start_fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--out", str(out), log=log)
    kill_when(p, lambda: any(s.get("row") == 2 and (s.get("step") or 0) >= 4 for s in steps(out)),
              "row 2 typed its email", log)
    assert ledger(out)[2]["status"] == "running"

    r = fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--out", str(out), "--resume")
    assert r.returncode == 4, r.stdout[-3000:] + r.stderr[-3000:]
    stored = read_submissions(db)
    assert [s["email"] for s in stored] == [rows[0]["email"], rows[2]["email"]]
    assert {k: stored[1][k] for k in as_stored(rows[2])} == as_stored(rows[2])  # nothing of row 2 in it
    assert ledger(out)[2]["status"] == "uncertain" and "--redo-uncertain" in r.stderr

    r = fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--out", str(out), "--resume",
             "--redo-uncertain")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stored = read_submissions(db)
    assert [s["email"] for s in stored] == [rows[n]["email"] for n in (0, 2, 1)]
    assert {k: stored[2][k] for k in as_stored(rows[1])} == as_stored(rows[1])
    led = ledger(out)
    assert [led[n]["status"] for n in (1, 2, 3)] == ["ok", "ok", "ok"] and "--redo-uncertain" in led[2]["note"]
