"""`agent run` end to end: a local OpenAI-compatible server on 127.0.0.1 answering like GLM-4.5V
drives a real Tk window on Xvfb; the window's own state proves the clicks and typing landed."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tasks.apps.widgets import TITLE
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.display

SCREEN = (1280, 800)


def thousandths(box, extra=(0, 0)):
    x, y, w, h = box
    cx, cy = x + w / 2 + extra[0], y + h / 2 + extra[1]
    return round(cx / SCREEN[0] * 1000), round(cy / SCREEN[1] * 1000)


def glm(action: str, thought: str = "Next step.") -> str:
    return (f"<think>Looking at the screen.</think>{thought}\n<|begin_of_box|>{action}<|end_of_box|>\n"
            "Memory:\n[]")


def request_images(body: dict) -> list[Image.Image]:
    out = []
    for m in body["messages"]:
        if isinstance(m["content"], list):
            for p in m["content"]:
                if p.get("type") == "image_url":
                    data = p["image_url"]["url"].split(",", 1)[1]
                    out.append(Image.open(io.BytesIO(base64.b64decode(data))))
    return out


def request_text(body: dict) -> str:
    parts = []
    for m in body["messages"]:
        if isinstance(m["content"], str):
            parts.append(m["content"])
        else:
            parts += [p.get("text", "") for p in m["content"] if p.get("type") == "text"]
    return "\n".join(parts)


@pytest.fixture
def widgets(spawn_window, tmp_path):
    state = tmp_path / "state.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(state),
                  "--geometry", "480x240+300+200"], title=TITLE)
    deadline = time.monotonic() + 10
    while True:
        try:
            s = json.loads(state.read_text())
            if s["widgets"]["button"][2] > 1:
                return state
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        assert time.monotonic() < deadline, "widgets app did not report its layout"
        time.sleep(0.05)


def run_agent(goal: str, url: str, xdisplay, out: Path, *extra: str, timeout: float = 120):
    env = {**xdisplay.env, "AGENT_MODEL_URL": url, "AGENT_MODEL": "glm-4.5v",
           "AGENT_CONFIG": str(out.parent / "no-config.toml")}
    return subprocess.run([sys.executable, "-m", "agent", "run", goal, "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=timeout)


@pytest.mark.parametrize("max_size", ["1280x800", "640x400"])
def test_run_drives_a_real_window_to_done(widgets, xdisplay, tmp_path, max_size):
    w = json.loads(widgets.read_text())["widgets"]
    bx, by = thousandths(w["button"])
    ex, ey = thousandths(w["entry"])
    cx, cy = thousandths(w["checkbox"], extra=(-60, 0))  # the tick box sits left of its label's centre
    answers = [
        glm(f"left_click(start_box='[{bx},{by}]', element_info='Click me button')", "Press the button."),
        glm(f"left_click(start_box='[{ex},{ey}]', element_info='text entry')", "Focus the entry."),
        glm("type(content='Hello GLM')", "Type the greeting."),
        glm(f"left_click(start_box='[{cx},{cy}]', element_info='Subscribe checkbox')", "Tick it."),
        glm("DONE()", "All set."),
    ]
    out = tmp_path / "run"
    with FakeOpenAI(answers) as srv:
        r = run_agent("press the button, type Hello GLM, tick Subscribe", srv.url, xdisplay, out,
                      "--max-size", max_size)
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads(widgets.read_text())
    assert (state["clicks"], state["text"], state["checked"]) == (1, "Hello GLM", True)
    # the model saw screenshots at the chosen downscale, the current one last
    want = tuple(int(v) for v in max_size.split("x"))
    first = request_images(srv.requests[0]["body"])
    assert [im.size for im in first] == [want]
    later = request_images(srv.requests[-1]["body"])
    assert later[-1].size == want and len(later) <= 5
    # the run is a trajectory: steps.jsonl with screen coordinates, sealed manifest
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["action"]["type"] for s in steps] == ["click", "click", "type", "click", "done"]
    assert json.loads((out / "manifest.json").read_text())["status"]["status"] == "done"
    assert subprocess.run([sys.executable, "-m", "agent", "verify", str(out)],
                          capture_output=True).returncode == 0


def test_parse_errors_are_fed_back_and_stagnation_ends_the_run(widgets, xdisplay, tmp_path):
    answers = ["I am not sure what to do.",  # no action: fed back to the model
               *[glm("left_click(start_box='[10,10]', element_info='empty desktop')")] * 8]
    out = tmp_path / "run"
    with FakeOpenAI(answers) as srv:
        r = run_agent("do nothing useful", srv.url, xdisplay, out)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "stagnated" in r.stdout
    texts = [request_text(q["body"]) for q in srv.requests]
    assert "could not be used" in texts[1]          # the parse error went back as feedback
    assert any("did not change" in t for t in texts)  # the model was warned before the stop
    assert len(srv.requests) <= 7
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"]["status"] == "stagnated"


def test_unreachable_server_ends_with_a_clear_message(widgets, xdisplay, tmp_path):
    r = run_agent("anything", "http://127.0.0.1:9/v1", xdisplay, tmp_path / "run")
    assert r.returncode == 4
    assert "cannot reach the model server" in r.stdout and "agent serve" in r.stdout


def test_no_model_exits_at_once_with_help(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = str(tmp_path / "none.toml")
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "agent", "run", "book a ticket"], capture_output=True,
                       text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 2 and time.monotonic() - t < 20
    assert "No model is configured" in r.stderr and "agent serve" in r.stderr and "AGENT_MODEL_URL" in r.stderr
