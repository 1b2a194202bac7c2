"""A secret typed into a field that *shows* its text, through record → replay → report (a Tk form; the
web form's card number is checked in tests/test_record_web.py).

* ``agent record --secret Email``: the field is identified by what was focused and typed into; the
  value becomes ``{{secret:EMAIL}}`` and is in no file and no saved picture (OCR), although the form
  shows it in plain text.
* ``agent replay`` types it from the environment into the Email field and saves; its own screenshots
  and report keep it covered (OCR of every picture after the secret was typed). The same OCR *does*
  read the email on the live screen — the check can fail.
* Replayed on the form as a returning customer sees it (Email and Last name known, shown as text; the
  Phone field where Email's was, and focused), the replay stops before typing: the recorded Email
  field is not there, and the secret goes into no other field.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.trajectory import read_trajectory
from tasks.apps.state import read_state
from tests.canary import assert_absent, assert_not_in_pictures, ocr_sees
from tests.conftest import HANG_S
from tests.test_record_replay import Person, procs, start_recorder  # noqa: F401 - procs is a fixture

pytestmark = pytest.mark.display
CANARY = "qx7canary@example.test"


def start_form(env: dict, state: Path, geometry: str, started: list, *extra: str) -> dict:
    started.append(subprocess.Popen([sys.executable, "-m", "tests.secret_form_app", "--state", str(state),
                                     "--geometry", geometry, *extra], env=env, stdin=subprocess.DEVNULL))
    return read_state(state, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)["widgets"]


def replay(env: dict, rec: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "replay", str(rec), "--out", str(out), "--no-kill-hotkey",
                           "--find-timeout", "4"], env={**env, "EMAIL": CANARY}, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=HANG_S)


def test_a_visible_secret_stays_out_of_files_and_pictures_and_never_goes_into_another_field(
        xdisplay, tmp_path, procs):  # noqa: F811
    from agent.screen import Screen

    env = xdisplay.env
    w = start_form(env, tmp_path / "s0.json", "520x300+80+60", procs)
    rec = tmp_path / "rec"
    recorder, log = start_recorder(env, rec, "--secret", "Email")
    p = Person(env)
    p.click(w["email"])
    p.type(CANARY)
    p.click(w["last_name"])
    p.type("Lovelace")
    p.click(w["phone"])
    p.type("5550100")
    p.click(w["save"])
    assert read_state(tmp_path / "s0.json", lambda s: s["saved"] is not None)["saved"]["email"] == CANARY
    p.do("key", "ctrl+alt+s")
    assert recorder.wait(timeout=HANG_S) == 0, log.read_text()
    steps = read_trajectory(rec).steps
    typed = [s for s in steps if s["action"]["type"] == "type"]
    assert typed[0]["action"]["text"] == "{{secret:EMAIL}}" and typed[0]["secret"] == "EMAIL", typed[0]
    assert [s.get("var") for s in typed[1:]] == ["last_name", "phone"], typed
    secret_at = steps.index(typed[0])
    assert_absent(CANARY, rec, log)
    assert assert_not_in_pictures(CANARY.split("@")[0], rec, secret_at) >= 3
    for p_ in procs:
        p_.kill()
    procs.clear()

    # replayed on the same form, elsewhere on the screen: typed from $EMAIL, covered in every picture
    state = tmp_path / "s1.json"
    start_form(env, state, "520x300+600+380", procs)
    r = replay(env, rec, tmp_path / "replay")
    assert r.returncode == 0, r.stdout + r.stderr
    saved = read_state(state, lambda s: s["saved"] is not None)["saved"]
    assert saved == {"email": CANARY, "last_name": "Lovelace", "phone": "5550100"}
    with Screen(xdisplay.display) as screen:  # the live form shows it: the OCR check below could fail
        assert ocr_sees(screen.capture().image, CANARY.split("@")[0])
    reports = list(tmp_path.glob("*report*.html"))
    assert reports, list(tmp_path.iterdir())
    assert_absent(CANARY, tmp_path / "replay", *reports)
    assert assert_not_in_pictures(CANARY.split("@")[0], tmp_path / "replay", secret_at) >= 2
    for p_ in procs:
        p_.kill()
    procs.clear()

    # the returning customer's form: no Email field, Phone where it was and focused: stop, type nothing
    state = tmp_path / "s2.json"
    start_form(env, state, "520x300+80+60", procs, "--prefilled")
    r = replay(env, rec, tmp_path / "prefilled")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "replay stopped at step" in r.stderr, r.stderr
    values = read_state(state)["values"]
    assert values["phone"] == "" and read_state(state)["saved"] is None, values
    last = read_trajectory(tmp_path / "prefilled").steps[-1]
    assert last["ok"] is False and (tmp_path / "prefilled" / last["screenshot"]).is_file()
    assert_absent(CANARY, tmp_path / "prefilled")
