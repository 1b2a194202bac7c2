"""`agent fill` end to end: the real CLI on Xvfb drives the real sample Tk form with pyautogui clicks
through the safe executor; the form's own sqlite store is the judge, field by field."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.apps.form import read_submissions

pytestmark = pytest.mark.display

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "form"


def fill(xdisplay, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in xdisplay.env.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    return subprocess.run([sys.executable, "-m", "agent", "fill", *args, "--no-kill-hotkey", "--settle-ms", "70"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT)


def as_stored(row: dict) -> dict:
    yes = {"yes": 1, "no": 0}
    return {**{k: row[k] for k in ("first_name", "last_name", "email", "phone", "birth_date", "country")},
            "newsletter": yes[row["newsletter"]], "terms": yes[row["terms"]]}


def test_twenty_rows_land_in_the_sample_apps_store(xdisplay, tmp_path):
    out = tmp_path / "run"
    r = fill(xdisplay, str(EXAMPLE / "fill.yaml"), "--data", str(EXAMPLE / "people.csv"), "--app", "sample",
             "--out", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = list(csv.DictReader((EXAMPLE / "people.csv").open()))
    assert len(rows) == 20
    stored = read_submissions(out / "sample.sqlite")
    assert len(stored) == 20
    for want, got in zip(rows, stored):
        assert {k: got[k] for k in as_stored(want)} == as_stored(want)
    results = json.loads((out / "results.json").read_text())
    assert results["counts"]["ok"] == 20 and [r["status"] for r in results["rows"]] == ["ok"] * 20
    steps = [json.loads(line) for line in (out / "trajectory" / "steps.jsonl").read_text().splitlines()]
    assert {s["row"] for s in steps} == set(range(1, 21))
    assert all(s["ok"] for s in steps)
    assert "20 submissions" in r.stdout


def test_failures_are_reported_and_resume_finishes_without_duplicates(xdisplay, tmp_path):
    rows = list(csv.DictReader((EXAMPLE / "people.csv").open()))[:6]
    rows[1]["email"] = ""              # row 2: a required value is missing
    rows[3]["country"] = "Atlantis"    # row 4: an option that is not on screen
    data = tmp_path / "rows.csv"
    with data.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    script = (EXAMPLE / "fill.yaml").read_text()
    script = script.replace("on_error: skip_row", "on_error: stop").replace(
        '  - select: {field: "Country", option: "{country}"}',
        '  - select: {field: "Country", option: "{country}"}\n    on_error: skip_row\n    timeout: 1')
    (tmp_path / "fill.yaml").write_text(script)
    out = tmp_path / "run"

    r = fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--app", "sample", "--out", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    res = {x["row"]: x for x in json.loads((out / "results.json").read_text())["rows"]}
    assert res[1]["status"] == "ok"
    assert res[2]["status"] == "failed" and "'email'" in res[2]["error"] and "empty" in res[2]["error"]
    assert 3 not in res  # on_error: stop ended the run
    assert [s["email"] for s in read_submissions(out / "sample.sqlite")] == [rows[0]["email"]]

    r = fill(xdisplay, str(tmp_path / "fill.yaml"), "--data", str(data), "--app", "sample", "--out", str(out), "--resume")
    assert r.returncode == 1, r.stdout + r.stderr
    res = {x["row"]: x for x in json.loads((out / "results.json").read_text())["rows"]}
    assert [res[n]["status"] for n in range(1, 7)] == ["ok", "failed", "ok", "failed", "ok", "ok"]
    assert res[4]["step"] == 6 and "'Atlantis'" in res[4]["error"] and "not in the list" in res[4]["error"]
    with (out / "results.csv").open() as f:
        assert [x["status"] for x in csv.DictReader(f)] == ["ok", "failed", "ok", "failed", "ok", "ok"]
    stored = read_submissions(out / "sample.sqlite")
    assert [s["email"] for s in stored] == [rows[n]["email"] for n in (0, 2, 4, 5)]  # each once, in order
    for n, got in zip((0, 2, 4, 5), stored):  # skip_row reset the form: no leftovers from row 4
        assert {k: got[k] for k in as_stored(rows[n])} == as_stored(rows[n])


def test_a_label_that_is_not_on_screen_names_what_was_there(xdisplay, tmp_path):
    (tmp_path / "s.yaml").write_text('steps:\n  - type: {into: "Middle name", text: "{first_name}"}\n    timeout: 0.5\n')
    out = tmp_path / "run"
    r = fill(xdisplay, str(tmp_path / "s.yaml"), "--data", str(EXAMPLE / "people.csv"), "--app", "sample",
             "--out", str(out), "--limit", "1")
    assert r.returncode == 1
    row = json.loads((out / "results.json").read_text())["rows"][0]
    assert row["status"] == "failed" and row["step"] == 1
    # the element model names what was there instead: the entries whose labels come closest
    assert "no field 'Middle name' on screen; closest on screen: " in row["error"]
    assert "entry 'First name' at (" in row["error"] and "entry 'Last name' at (" in row["error"]
    shot = row["error"].split("; screenshot ")[1].split(" ")[0]
    assert Path(shot).exists()
    assert read_submissions(out / "sample.sqlite") == []


def test_dry_run_annotates_and_touches_nothing(xdisplay, tmp_path):
    out = tmp_path / "run"
    r = fill(xdisplay, str(EXAMPLE / "fill.yaml"), "--app", "sample", "--out", str(out), "--dry-run", "--limit", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "dry-run" / "row-0001.png").exists()
    assert json.loads((out / "results.json").read_text())["rows"][0]["status"] == "dry-run"
    assert read_submissions(out / "sample.sqlite") == []
    assert not (out / "trajectory").exists()


def test_script_errors_stop_before_anything_is_touched(tmp_path):
    (tmp_path / "bad.yaml").write_text("steps:\n  - click: Save\n  - clik: Save\n  - type: {into: A}\n")
    (tmp_path / "rows.csv").write_text("a\n1\n")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # no display: nothing could be touched
    r = subprocess.run([sys.executable, "-m", "agent", "fill", str(tmp_path / "bad.yaml"), "--data",
                        str(tmp_path / "rows.csv")], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert "bad.yaml:3: steps[1].clik: unknown key" in r.stderr
    assert "bad.yaml:4: steps[2].type.text: Field required" in r.stderr
    (tmp_path / "broken.yaml").write_text("steps:\n  - click: [Save\n")
    r = subprocess.run([sys.executable, "-m", "agent", "fill", str(tmp_path / "broken.yaml"), "--data",
                        str(tmp_path / "rows.csv")], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "broken.yaml:3: YAML syntax error" in r.stderr
    (tmp_path / "ok.yaml").write_text('steps:\n  - click: "{nope}"\n')
    r = subprocess.run([sys.executable, "-m", "agent", "fill", str(tmp_path / "ok.yaml"), "--data",
                        str(tmp_path / "rows.csv")], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "{nope}" in r.stderr and "no such column" in r.stderr
