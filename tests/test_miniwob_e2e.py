"""MiniWoB++ through our executor: real Chromium on the task's own Xvfb, real pyautogui clicks and
typing mapped from page to screen coordinates, MiniWoB's own reward as the evaluator. Kept to two
tasks (they run in CI); `agent eval miniwob` runs the six scripted ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import HANG_S

pytestmark = [pytest.mark.display, pytest.mark.miniwob]


@pytest.fixture(autouse=True)
def _needs_chromium():
    pytest.importorskip("miniwob")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium and chromedriver are needed (apt-get install chromium chromium-driver)")


def test_click_button_and_enter_text_score_reward_1_through_the_real_executor(tmp_path, xdisplay):
    out = tmp_path / "eval"
    r = subprocess.run([sys.executable, "-m", "agent", "eval", "miniwob.click-button,miniwob.enter-text",
                        "--workers", "2", "--out", str(out)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=HANG_S)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {x["task"]: x for x in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert set(rows) == {"miniwob.click-button", "miniwob.enter-text"}
    for x in rows.values():
        assert x["success"] and x["reward"] == 1.0, x
        # the page offset was measured on screen, and the actions are real screen clicks/typing
        assert x["page_offset"][1] > 0
        steps = [json.loads(s) for s in open(x["trajectory"] + "/steps.jsonl")]
        assert steps[0]["action"]["type"] == "click" and steps[0]["screenshot"]
    typed = [json.loads(s)["action"] for s in open(rows["miniwob.enter-text"]["trajectory"] + "/steps.jsonl")]
    assert [a["type"] for a in typed] == ["click", "type", "click", "done"]
    assert rows["miniwob.enter-text"]["goal"].startswith("Enter ")
