"""The README's record → export → fill path, end to end on Xvfb: a simulated person (xdotool) fills the
sample form once while ``agent record`` runs; ``agent export --vars`` turns the recording into a fill
script with ``{var}`` placeholders and a CSV header; ``agent fill`` then enters two *new* rows into a
fresh copy of the app, and the app's own sqlite store is checked field by field."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agent.trajectory import read_trajectory
from tasks.apps.form import read_submissions
from tests.test_record_replay import Person, procs, start_recorder  # noqa: F401 - procs is a fixture
from tasks.apps.state import read_state

pytestmark = pytest.mark.display

ROOT = Path(__file__).resolve().parents[1]


def start_form(env: dict, db: Path, state: Path, started: list) -> dict:
    """The sample form with a state file (widget boxes in screen coordinates), once it is laid out."""
    started.append(subprocess.Popen([sys.executable, "-m", "tasks.apps.form", "--db", str(db), "--state", str(state),
                                     "--geometry", "620x560+40+30"], env=env, stdin=subprocess.DEVNULL))
    return read_state(state, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)


def test_record_export_with_vars_then_fill_new_rows(xdisplay, tmp_path, procs):  # noqa: F811
    env = xdisplay.env
    state = tmp_path / "form.json"
    w = start_form(env, tmp_path / "recorded.sqlite", state, procs)["widgets"]

    # 1. a person fills the form once while `agent record` watches
    rec = tmp_path / "signup"
    recorder, log = start_recorder(env, rec)
    p = Person(env)
    p.click(w["first_name"])
    p.type("Ada")
    p.click(w["last_name"])
    p.type("Lovelace")
    p.click(w["email"])
    p.type("ada@example.org")
    p.click(w["country"])
    option = read_state(state, lambda s: "option:Sweden" in s["widgets"])["widgets"]["option:Sweden"]
    p.click(option)
    read_state(state, lambda s: s["values"]["country"] == "Sweden")
    p.click(w["terms"])
    p.click(w["save"])
    read_state(state, lambda s: s["submissions"] == 1)
    time.sleep(0.5)
    p.do("key", "ctrl+alt+s")
    assert recorder.wait(timeout=30) == 0, log.read_text()
    recorded = read_submissions(tmp_path / "recorded.sqlite")
    assert [(r["first_name"], r["country"], r["terms"]) for r in recorded] == [("Ada", "Sweden", 1)]
    t = read_trajectory(rec)
    assert t.sealed and not t.problems

    # 2. export with --vars: typed values and the chosen country become {placeholders}
    script = tmp_path / "fill" / "script.yaml"
    ex = subprocess.run([sys.executable, "-m", "agent", "export", str(rec), "--format", "yaml", "--vars", "--out",
                         str(script)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ex.returncode == 0, ex.stdout + ex.stderr
    text = script.read_text()
    header = next(line for line in text.splitlines() if line.startswith("# data file header (CSV): "))
    columns = header.split(": ", 1)[1].split(",")
    assert columns == ["first_name", "last_name", "email", "country", "terms"], text
    steps = yaml.safe_load(text)["steps"]
    assert steps == [{"type": {"into": {"name": "First name", "role": "entry"}, "text": "{first_name}"}},
                     {"type": {"into": {"name": "Last name", "role": "entry"}, "text": "{last_name}"}},
                     {"type": {"into": {"name": "Email", "role": "entry"}, "text": "{email}"}},
                     {"select": {"field": "Country", "option": "{country}"}},
                     {"check": {"label": "I accept the terms", "value": "{terms}"}},
                     {"click": {"name": "Save", "role": "button"}}], text
    with (tmp_path / "fill" / "signup.csv").open() as f:  # the recorded row starts the data file
        assert list(csv.reader(f)) == [columns, ["Ada", "Lovelace", "ada@example.org", "Sweden", "yes"]]

    # 3. a fresh app (empty store), two new rows, `agent fill` on the already-open window
    for proc in procs:
        proc.kill()
        proc.wait(timeout=5)
    db = tmp_path / "fresh.sqlite"
    start_form(env, db, tmp_path / "form2.json", procs)
    rows = [{"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "country": "Denmark",
             "terms": "yes"},
            {"first_name": "Alan", "last_name": "Turing", "email": "alan.turing@example.org", "country": "Finland",
             "terms": "yes"}]
    data = tmp_path / "new.csv"
    with data.open("w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=columns)
        wr.writeheader()
        wr.writerows(rows)
    run = tmp_path / "run"
    fenv = {k: v for k, v in env.items() if not k.startswith("AGENT_")}
    fenv["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    r = subprocess.run([sys.executable, "-m", "agent", "fill", str(script), "--data", str(data), "--yes",
                        "--out", str(run), "--no-kill-hotkey", "--settle-ms", "70"], capture_output=True, text=True,
                       env=fenv, stdin=subprocess.DEVNULL, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert [x["status"] for x in json.loads((run / "results.json").read_text())["rows"]] == ["ok", "ok"]
    stored = read_submissions(db)
    assert len(stored) == 2
    for want, got in zip(rows, stored):
        assert {k: got[k] for k in want if k != "terms"} == {k: v for k, v in want.items() if k != "terms"}
        assert (got["terms"], got["newsletter"], got["phone"], got["birth_date"]) == (1, 0, "", "")
