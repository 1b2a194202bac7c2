"""Record and replay on the screen element model, in a Tk app (no accessibility tree: the visual parse
names the elements), on Xvfb with xdotool as the person:

* the recording names each target as an element (role, name) and the field each text went into;
* replayed on the form moved, it fills the same fields (Tab included) and saves;
* replayed on the form **redesigned** — labels above the fields, fields elsewhere, another tab order —
  the typed name still lands in the field labelled Name (found by its label, not its pixels), and the
  text the person typed after Tab is *not* typed, because the focus is no longer on the recorded field:
  a clean stop with a screenshot;
* replayed on a form without the Name field, it stops at once, nothing typed anywhere;
* with a model configured (a stand-in OpenAI-compatible server), a button that was renamed is healed by
  the agent loop; the trajectory marks the model's action ``healed`` and the report's filter counts it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.trajectory import read_trajectory
from tasks.apps.state import read_state
from tests.fake_openai import FakeOpenAI
from tests.test_record_replay import Person, procs, replay, start_recorder  # noqa: F401 - procs is a fixture

pytestmark = pytest.mark.display


def start_app(env: dict, state: Path, geometry: str, started: list, *extra: str) -> dict:
    started.append(subprocess.Popen([sys.executable, "-m", "tests.record_app", "--state", str(state),
                                     "--geometry", geometry, *extra], env=env, stdin=subprocess.DEVNULL))
    return read_state(state, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)


def stop_apps(started: list) -> None:
    for p in started:
        p.kill()
        p.wait(timeout=5)
    started.clear()


def test_tk_form_replays_by_elements_and_stops_rather_than_type_elsewhere(xdisplay, tmp_path, procs):  # noqa: F811
    env = xdisplay.env
    w = start_app(env, tmp_path / "s0.json", "520x440+60+40", procs)["widgets"]
    rec = tmp_path / "rec"
    recorder, log = start_recorder(env, rec)
    p = Person(env)
    p.click(w["name"])
    p.type("Alice")
    p.do("key", "Tab")
    p.type("pw12")
    p.click(w["subscribe"])
    p.click(w["save"])
    read_state(tmp_path / "s0.json", lambda s: s["saved"] is not None)
    p.do("key", "ctrl+alt+s")
    assert recorder.wait(timeout=60) == 0, log.read_text()
    t = read_trajectory(rec)
    kinds = [s["action"]["type"] for s in t.steps]
    assert kinds == ["click", "type", "press", "type", "click", "click"], kinds
    el = t.steps[0]["anchor"]["element"]
    assert (el["role"], el["name"], el["source"]) == ("entry", "Name", "visual"), el
    assert t.steps[1]["var"] == "name" and t.steps[1]["focus"]["name"] == "Name"
    assert t.steps[3]["focus"]["name"] == "Password", t.steps[3].get("focus")  # focused by Tab, read from pixels
    assert t.steps[4]["choice"] == {"var": "subscribe", "value": "yes"}
    assert (t.steps[5]["anchor"]["element"]["role"], t.steps[5]["anchor"]["element"]["name"]) == ("button", "Save")
    stop_apps(procs)

    # 1. the form moved: every step found as its element, Tab and all
    state = tmp_path / "s1.json"
    start_app(env, state, "520x440+640+330", procs)
    r = replay(env, rec, tmp_path / "moved")
    assert r.returncode == 0, r.stdout + r.stderr
    saved = read_state(state, lambda s: s["saved"] is not None)["saved"]
    assert (saved["name"], saved["password"], saved["subscribed"]) == ("Alice", "pw12", True)
    methods = [(s.get("grounding") or {}).get("method") for s in read_trajectory(tmp_path / "moved").steps
               if s["action"]["type"] == "click"]
    assert methods == ["element"] * 3, methods
    stop_apps(procs)

    # 2. redesigned: labels above, fields moved, Password first in the tab order. The name goes into
    # the field labelled Name; after Tab the focus is on another widget, so "pw12" is typed nowhere.
    state = tmp_path / "s2.json"
    s2 = start_app(env, state, "520x440+420+260", procs, "--layout", "above")
    assert s2["widgets"]["name"][0] > s2["widgets"]["password"][0]  # Name is now right of Password
    r = replay(env, rec, tmp_path / "redesigned")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "replay stopped at step 3" in r.stderr and "keyboard focus" in r.stderr, r.stderr
    values = read_state(state, lambda s: s["values"]["name"] == "Alice")["values"]
    assert values["password"] == "" and read_state(state)["saved"] is None
    shot = tmp_path / "redesigned" / "images" / "000003-wrongfocus.png"
    assert shot.is_file() and str(shot) in r.stderr
    stop_apps(procs)

    # 3. the Name field is gone: a clean stop at step 0, nothing typed anywhere
    state = tmp_path / "s3.json"
    start_app(env, state, "520x440+300+200", procs, "--without", "name")
    r = replay(env, rec, tmp_path / "gone", "--find-timeout", "2")
    assert r.returncode == 1 and "replay stopped at step 0" in r.stderr, r.stdout + r.stderr
    assert "no entry 'Name'" in r.stderr, r.stderr
    final = read_state(state)
    assert final["values"]["password"] == "" and final["saved"] is None
    assert read_trajectory(tmp_path / "gone").steps[-1]["ok"] is False


def glm(action: str) -> str:
    return f"<think>Looking.</think>Next.\n<|begin_of_box|>{action}<|end_of_box|>\nMemory:\n[]"


def test_a_renamed_button_is_healed_by_the_agent_loop(xdisplay, tmp_path, procs):  # noqa: F811
    env = xdisplay.env
    w = start_app(env, tmp_path / "s0.json", "520x440+60+40", procs)["widgets"]
    rec = tmp_path / "rec"
    recorder, log = start_recorder(env, rec)
    Person(env).click(w["save"])
    read_state(tmp_path / "s0.json", lambda s: s["saved"] is not None)
    Person(env).do("key", "ctrl+alt+s")
    assert recorder.wait(timeout=60) == 0, log.read_text()
    stop_apps(procs)

    state = tmp_path / "s1.json"
    store = start_app(env, state, "520x440+500+280", procs, "--save-label", "Store")["widgets"]["save"]
    cx, cy = store[0] + store[2] / 2, store[1] + store[3] / 2
    goals: list[str] = []

    def answer(body: dict) -> str:
        text = "\n".join(p.get("text", "") for m in body["messages"] if isinstance(m["content"], list)
                         for p in m["content"] if p.get("type") == "text")
        text += "\n".join(m["content"] for m in body["messages"] if isinstance(m["content"], str))
        if "Locate" in text and "bounding box" in text:
            return "NOT_FOUND"  # the VLM grounder is asked first; it does not know "Save" either
        goals.append(text)
        if sum("Click the button named 'Save'" in g for g in goals) == 1:
            return glm(f"left_click(start_box='[{round(cx / 1.28)},{round(cy / 0.8)}]', element_info='Store button')")
        return glm("DONE()")

    with FakeOpenAI(answer) as srv:
        r = replay({**env, "AGENT_MODEL_URL": srv.url, "AGENT_MODEL": "glm-4.5v",
                    "AGENT_CONFIG": str(tmp_path / "none.toml")}, rec, tmp_path / "healed", "--find-timeout", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert read_state(state, lambda s: s["saved"] is not None)["saved"] is not None
    assert any("Click the button named 'Save'" in g for g in goals), goals
    steps = read_trajectory(tmp_path / "healed").steps
    healed = [s for s in steps if s.get("healed")]
    assert [s["action"]["type"] for s in healed] == ["click", "done"] and all(s["replay_of"] == 0 for s in healed)
    assert "1 healed (steps 0)" in r.stdout
    from agent.trajectory.report_steps import flags

    assert sum("healed" in flags(s) for s in steps) >= 2
    status = json.loads((tmp_path / "healed" / "manifest.json").read_text())["status"]
    assert status["healed"] == [0]
