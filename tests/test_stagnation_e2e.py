"""Stagnation through ``agent run``: a real Tk window on Xvfb whose caret blinks and whose spinner turns
all the time (tests/motion_app.py), a local OpenAI-compatible server answering like GLM-4.5V. Pressing
buttons that do nothing is caught although no two screenshots are identical, whether the model repeats
one action or alternates between two; the model is told before the run stops."""

from __future__ import annotations

import json
import sys
import time

import pytest

from tests.fake_openai import FakeOpenAI
from tests.motion_app import TITLE
from tests.test_run_e2e import glm, request_text, run_agent, thousandths

pytestmark = pytest.mark.display


def start(spawn_window, tmp_path, spinner: bool) -> dict:
    state = tmp_path / "motion.json"
    argv = [sys.executable, "-m", "tests.motion_app", "--state", str(state), "--geometry", "460x220+300+200"]
    spawn_window(argv + (["--spinner"] if spinner else []), title=TITLE)
    deadline = time.monotonic() + 15
    while True:
        try:
            s = json.loads(state.read_text())
            if s["focused"] and s["widgets"]["alpha"][2] > 1:
                return {"path": state, **s["widgets"]}
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        assert time.monotonic() < deadline, "motion app did not report its layout and focus"
        time.sleep(0.05)


def press(box, name: str) -> str:
    x, y = thousandths(box)
    return glm(f"left_click(start_box='[{x},{y}]', element_info='{name} button')", f"Press {name}.")


def presses(app: dict) -> dict:
    return json.loads(app["path"].read_text())["presses"]


@pytest.mark.parametrize("spinner", [False, True], ids=["caret", "caret+spinner"])
def test_repeating_a_no_op_while_the_screen_blinks_stagnates(spawn_window, xdisplay, tmp_path, spinner):
    app = start(spawn_window, tmp_path, spinner)
    out = tmp_path / "run"
    with FakeOpenAI([press(app["alpha"], "Alpha")] * 8) as srv:
        r = run_agent("press Alpha", srv.url, xdisplay, out, "--max-steps", "8", timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"]["status"] == "stagnated", manifest["status"]
    assert "repeated 5 times" in manifest["status"]["reason"]
    assert presses(app) == {"alpha": 5, "beta": 0}  # every press landed; none changed the screen
    texts = [request_text(q["body"]) for q in srv.requests]
    assert len(texts) == 5 and "did not change" in texts[3] and "did not change" not in texts[2]


def test_alternating_two_no_ops_is_a_cycle(spawn_window, xdisplay, tmp_path):
    """Alpha, Beta, Alpha, Beta: each press moves Tk's hover highlight from one button to the other
    (a real change between two screenshots) while the spinner turns; the screen only ever comes
    back to the same two states."""
    app = start(spawn_window, tmp_path, spinner=True)
    out = tmp_path / "run"
    answers = [press(app["alpha"], "Alpha"), press(app["beta"], "Beta")] * 5
    with FakeOpenAI(answers) as srv:
        r = run_agent("press the buttons", srv.url, xdisplay, out, "--max-steps", "10", timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    status = json.loads((out / "manifest.json").read_text())["status"]
    assert status["status"] == "stagnated", status
    assert "Alpha" in status["reason"] and "Beta" in status["reason"] and "cycle" in status["reason"]
    assert presses(app) == {"alpha": 3, "beta": 3}
    texts = [request_text(q["body"]) for q in srv.requests]
    assert len(texts) == 6 and "did not change" in texts[4]
    assert "stagnated" in r.stdout
