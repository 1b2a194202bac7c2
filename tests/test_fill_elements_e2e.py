"""`agent fill` on the screen element model, end to end on Xvfb with real Tk forms and pyautogui input.

* The intake form (labels *above* fields, a radio group, spinboxes, a 36-country read-only combobox
  whose list must be scrolled, tick boxes, a multi-line notes box) filled from a CSV by a script that
  names fields only by their labels: every field of every row checked in the app's sqlite store.
* The held-out loan form — laid out otherwise (two columns of labels *left* of fields, a titled frame of
  radios, a 40-department list) and never looked at while fill was tuned — run resized, in another
  font size, from its own CSV: every field of every row right in its store.
* A shipping form in ttk's default theme (``tests/themed_form_app.py``, written after fill was done:
  labels ending in colons, titled frames, a focused read-only combobox whose value sits on a
  selection band) filled by a labels-only script: every value read back from the app's own widgets.
* Keyboard steps (Tab, typing into the focused field), steps skipped when their optional value is
  empty, and an ambiguous and a missing target each failing their row with the candidates named.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.apps.intake import read_intakes
from tasks.apps.loan import TITLE as LOAN_TITLE, read_loans
from tasks.apps.state import read_state
from tests.conftest import HANG_S

pytestmark = pytest.mark.display

ROOT = Path(__file__).resolve().parents[1]
YES = {"yes": 1, "no": 0}


def fill(xdisplay, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in xdisplay.env.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    return subprocess.run([sys.executable, "-m", "agent", "fill", *args, "--no-kill-hotkey", "--settle-ms", "70"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=HANG_S, cwd=ROOT)


def steps_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trajectory" / "steps.jsonl").read_text().splitlines()]


def test_intake_filled_from_csv_by_labels_alone(xdisplay, tmp_path):
    out = tmp_path / "run"
    r = fill(xdisplay, str(ROOT / "examples" / "intake" / "fill.yaml"), "--app", "intake", "--out", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = list(csv.DictReader((ROOT / "examples" / "intake" / "patients.csv").open()))
    stored = read_intakes(out / "intake.sqlite")
    assert len(stored) == len(rows) == 4
    for want, got in zip(rows, stored):
        expected = {**want, **{k: YES[want[k]] for k in ("smoker", "allergies", "consent")}}
        assert {k: got[k] for k in expected} == expected
    steps = steps_of(out)
    methods = {s["match"]["method"] for s in steps if s.get("match")}
    assert methods == {"element:visual"}, methods  # every target from the element model, no pixel fallback
    scrolls = [s for s in steps if s["action"]["type"] == "scroll"]
    assert scrolls, "a country past the first screenful of the list needs the list scrolled"
    options = [s["match"]["element"]["name"] for s in steps
               if (s.get("match") or {}).get("element", {}).get("role") == "option"]
    assert options == [r["country"] for r in rows]
    assert "4 intakes" in r.stdout


def test_held_out_loan_form_resized_filled_from_csv(xdisplay, spawn_window, tmp_path):
    db = tmp_path / "loans.sqlite"
    spawn_window([sys.executable, "-m", "tasks.apps.loan", "--db", str(db), "--geometry", "1120x700+90+50",
                  "--font-size", "12"], title=LOAN_TITLE, timeout=30)
    out = tmp_path / "run"
    r = fill(xdisplay, str(ROOT / "examples" / "loan" / "fill.yaml"), "--out", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = list(csv.DictReader((ROOT / "examples" / "loan" / "loans.csv").open()))
    stored = read_loans(db)
    assert len(stored) == len(rows) == 3
    for want, got in zip(rows, stored):
        expected = {**{k: v for k, v in want.items() if k not in ("case", "charger", "insured")},
                    "charger": YES[want["charger"]], "case_": YES[want["case"]], "insured": YES[want["insured"]]}
        assert {k: got[k] for k in expected} == expected
    steps = steps_of(out)
    methods = {s["match"]["method"] for s in steps if s.get("match")}
    assert methods == {"element:visual"}, methods  # the 1-px-outlined Purpose box too: no OCR fallback
    boxes = [s["match"]["element"] for s in steps if (s.get("match") or {}).get("element", {}).get("role") == "textarea"]
    assert [b["name"] for b in boxes] == ["Purpose", "Purpose"]  # the two rows with a purpose


KEYS = """name: keyboard steps and optional values
on_error: skip_row
reset: [{click: Clear}]
steps:
  - type: {into: "Full name", text: "{full_name}"}
  - press: tab
  - type: {text: "{email}"}                          # the focused field (Email address), no target
  - type: {into: "Phone", text: "{phone?}"}
  - choose: {group: "Sex", option: "{sex}"}
  - type: {into: "Age", text: "{age}"}
  - select: {field: "Country of birth", option: "{country?}"}
  - check: {label: "{tick?}", value: yes}            # a variable in a target's name
  - click: Save
  - expect: "Saved: {full_name}"
"""
BAD = """name: targets that cannot be told
on_error: skip_row
timeout: 1
reset: [{click: Clear}]
steps:
  - type: {into: {role: spinbox}, text: "{age?}"}     # Age or Children?
  - check: {label: "{box?}", value: yes}              # not on this form
  - click: Save
"""


def test_keyboard_steps_skipped_optionals_and_errors_naming_candidates(xdisplay, spawn_window, tmp_path):
    db, state = tmp_path / "intake.sqlite", tmp_path / "intake.json"
    spawn_window([sys.executable, "-m", "tasks.apps.intake", "--db", str(db), "--state", str(state)],
                 title="desk-agent intake", timeout=30)
    (tmp_path / "keys.yaml").write_text(KEYS)
    with (tmp_path / "keys.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerows([["full_name", "email", "phone", "sex", "age", "country", "tick"],
                     ["Ada Lovelace", "ada@example.org", "+44 20 7946 0001", "Female", "36", "Peru", "Smoker"],
                     ["Alan Turing", "alan@example.org", "", "Male", "41", "", ""]])
    out = tmp_path / "keys"
    r = fill(xdisplay, str(tmp_path / "keys.yaml"), "--data", str(tmp_path / "keys.csv"), "--out", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stored = read_intakes(db)
    assert [(s["full_name"], s["email"], s["phone"], s["sex"], s["age"], s["country"], s["smoker"]) for s in stored] == [
        ("Ada Lovelace", "ada@example.org", "+44 20 7946 0001", "Female", "36", "Peru", 1),
        ("Alan Turing", "alan@example.org", "", "Male", "41", "", 0)]
    steps = steps_of(out)
    row2 = {s["step"] for s in steps if s["row"] == 2}
    assert not row2 & {4, 7, 8}, row2  # phone, country and the tick box were skipped, nothing acted for them
    assert [s["action"]["key"] for s in steps if s["step"] == 2] == ["tab", "tab"]
    typed = [s for s in steps if s["action"]["type"] == "type" and s["step"] == 3]
    assert [s["action"]["text"] for s in typed] == ["ada@example.org", "alan@example.org"]

    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "bad.csv").write_text("age,box\n36,\n,Vegetarian\n")
    out = tmp_path / "bad"
    r = fill(xdisplay, str(tmp_path / "bad.yaml"), "--data", str(tmp_path / "bad.csv"), "--out", str(out))
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    res = {x["row"]: x for x in json.loads((out / "results.json").read_text())["rows"]}
    assert res[1]["status"] == "failed" and res[1]["step"] == 1
    assert "spinbox matches 2 elements equally well: spinbox 'Age' at (" in res[1]["error"]
    assert "spinbox 'Children' at (" in res[1]["error"] and "say which with row, group, near or nth" in res[1]["error"]
    assert res[2]["status"] == "failed" and res[2]["step"] == 2
    assert "no checkbox 'Vegetarian' on screen; closest on screen: checkbox " in res[2]["error"]
    assert "checkbox 'Smoker' at (" in res[2]["error"]
    assert Path(res[2]["error"].split("; screenshot ")[1].split(" ")[0]).exists()
    assert len(read_intakes(db)) == 2  # nothing saved by the failing rows
    assert read_state(state, lambda s: s["values"]["age"] == "" and s["values"]["full_name"] == "")  # reset ran


SHIP = """name: shipping request
reset: [{click: Cancel}]
steps:
  - type: {into: "Company name", text: "{company}", clear: true}
  - type: {into: "Reference", text: "{ref}", clear: true}
  - type: {into: "City", text: "{city}", clear: true}
  - choose: {group: "Packaging", option: "{packaging}"}
  - check: {label: "Saturday delivery", value: "{saturday}"}
  - check: {label: "Fragile handling", value: "{fragile}"}
  - type: {into: "Delivery instructions", text: "{notes}", clear: true}
  - select: {field: "Priority", option: "{priority}"}
"""


def test_ttk_form_it_was_not_tuned_on(xdisplay, spawn_window, tmp_path):
    from tests.themed_form_app import TITLE

    state = tmp_path / "ship.json"
    spawn_window([sys.executable, str(ROOT / "tests" / "themed_form_app.py"), str(state), "--theme", "default"],
                 title=TITLE, timeout=30)
    (tmp_path / "ship.yaml").write_text(SHIP)
    rows = [{"company": "Acme Tools", "ref": "PO-4471", "city": "Trondheim", "packaging": "Crate",
             "saturday": "yes", "fragile": "no", "notes": "Leave at the back door.\nRing twice.", "priority": "High"}]
    with (tmp_path / "ship.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = fill(xdisplay, str(tmp_path / "ship.yaml"), "--data", str(tmp_path / "ship.csv"), "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    got = {e["key"]: e for e in read_state(state)["elements"]}
    want = rows[0]
    assert [got[k]["value"] for k in ("company", "ref", "city", "instructions", "priority")] == \
        [want["company"], want["ref"], want["city"], want["notes"], want["priority"]]
    checked = sorted(k for k, e in got.items() if "checked" in e["states"])
    assert checked == ["packaging2", "service2"]  # Crate; Saturday delivery ticked, Fragile handling not
    methods = {s["match"]["method"] for s in steps_of(tmp_path / "run") if s.get("match")}
    assert methods == {"element:visual"}, methods
