"""Record and replay end to end on Xvfb: a simulated person (xdotool) works in a real Tk app while
``agent record`` runs as a subprocess; the app is then moved, the screen size changed (a second
virtual desktop, replayed in its own process) and ``agent replay`` must reproduce the result, proved by
the app's own state file. Also: kill -9 during recording, a secret canary, a failing replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.desktop import VirtualDesktop
from agent.trajectory import read_trajectory
from tests.record_app import TITLE
from tasks.apps.state import read_state
from tests.conftest import HANG_S

pytestmark = pytest.mark.display
CANARY = "Canary-9b1d-SECRET"


def centre(box) -> tuple[str, str]:
    return str(box[0] + box[2] // 2), str(box[1] + box[3] // 2)


class Person:
    """A person at the keyboard, played by xdotool, with a human pause after each action."""

    def __init__(self, env: dict, pause: float = 0.3):
        self.env, self.pause = env, pause

    def do(self, *args: str, pause: float | None = None) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True)
        time.sleep(self.pause if pause is None else pause)

    def click(self, box, *, twice: bool = False) -> None:
        self.do("mousemove", *centre(box), pause=0.15)
        self.do("click", *(["--repeat", "2", "--delay", "80"] if twice else []), "1")

    def type(self, text: str) -> None:
        self.do("type", "--delay", "25", text)

    def drag(self, x: int, y: int, dx: int) -> None:
        self.do("mousemove", str(x), str(y), pause=0.15)
        self.do("mousedown", "1", pause=0.05)
        for k in range(1, 11):
            self.do("mousemove", str(x + dx * k // 10), str(y), pause=0.03)
        self.do("mouseup", "1")


def start_app(env: dict, state: Path, geometry: str, procs: list) -> dict:
    procs.append(subprocess.Popen([sys.executable, "-m", "tests.record_app", "--state", str(state),
                                   "--geometry", geometry], env=env, stdin=subprocess.DEVNULL))
    return read_state(state, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)


def start_recorder(env: dict, out: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    log = out.with_suffix(".log")
    proc = subprocess.Popen([sys.executable, "-m", "agent", "record", str(out), *extra], env=env,
                            stdin=subprocess.DEVNULL, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90  # the labeller process loads the OCR model first
    while "recording to" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "recorder did not start"
        time.sleep(0.05)
    return proc, log


def replay(env: dict, rec: Path, out: Path, *extra: str, secrets_env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "agent", "replay", str(rec), "--out", str(out), *extra],
                          env={**env, **(secrets_env or {})}, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=HANG_S)


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=5)


def assert_no_canary(*roots: Path) -> None:
    for root in roots:
        files = [root] if root.is_file() else [f for f in root.rglob("*") if f.is_file()]
        for f in files:
            assert CANARY.encode() not in f.read_bytes(), f"the secret leaked into {f}"


def test_record_then_replay_on_a_moved_window_and_bigger_screen(xdisplay, tmp_path, procs):
    state = tmp_path / "state.json"
    s = start_app(xdisplay.env, state, "520x440+60+40", procs)
    w = s["widgets"]
    rec = tmp_path / "rec"
    recorder, log = start_recorder(xdisplay.env, rec)
    p = Person(xdisplay.env)
    p.click(w["name"])
    p.type("Alice Smith")
    p.click(w["password"])
    p.do("key", "ctrl+alt+m", pause=0.1)  # the secret hotkey, before typing the password
    p.type(CANARY)
    p.click(w["subscribe"])
    sl = s["slider"]
    p.drag(w["scale"][0] + int(sl[0]), w["scale"][1] + int(sl[1]), 120)
    p.do("mousemove", *centre(w["list"]), pause=0.15)
    for _ in range(3):
        p.do("click", "5", pause=0.15)
    time.sleep(0.5)
    s = read_state(state)
    item, box = list(s["visible_items"].items())[1]
    p.click(box, twice=True)
    p.click(w["save"])
    saved = read_state(state, lambda st: st["saved"] is not None)["saved"]
    assert saved["chosen"] == item and saved["password"] == CANARY and saved["volume"] > 0
    p.do("key", "ctrl+alt+s")
    assert recorder.wait(timeout=30) == 0, log.read_text()

    t = read_trajectory(rec)
    assert t.sealed and not t.problems
    kinds = [(st["action"]["type"], st["action"].get("clicks")) for st in t.steps]
    assert kinds == [("click", 1), ("type", None), ("click", 1), ("type", None), ("click", 1), ("drag", None),
                     ("scroll", None), ("click", 2), ("click", 1)], kinds
    assert t.steps[1]["action"]["text"] == "Alice Smith"
    secret_name = t.steps[3]["secret"]
    assert t.steps[3]["action"]["text"] == "{{secret:%s}}" % secret_name
    assert all(st.get("screenshot") for st in t.steps) and t.steps[0]["anchor"]["crop"]
    assert_no_canary(rec, log)

    # Replay: the app on a 1600x1000 screen, window elsewhere; a new name through --var.
    for proc in procs:
        proc.kill()
    with VirtualDesktop((1600, 1000)) as desk2:
        state2 = tmp_path / "state2.json"
        start_app(desk2.env, state2, "520x440+700+380", procs)
        out = tmp_path / "replay"
        r = replay(desk2.env, rec, out, "--var", f"{t.steps[1]['var']}=Bob Jones",
                   secrets_env={secret_name: CANARY})
        assert r.returncode == 0, r.stdout + r.stderr
        got = read_state(state2, lambda st: st["saved"] is not None)["saved"]
    assert got == {**saved, "name": "Bob Jones"}
    assert "template" in r.stdout
    rt = read_trajectory(out)
    assert rt.sealed and [st["replay_of"] for st in rt.steps] == list(range(9))
    assert_no_canary(out)

    # The report and the export of the recording hold no secret either.
    rep = subprocess.run([sys.executable, "-m", "agent", "report", str(out), "--out", str(tmp_path / "r.html")],
                         capture_output=True, text=True)
    assert rep.returncode == 0, rep.stderr
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/jpeg;base64,") >= 9 and 'class="mark' in html
    assert_no_canary(tmp_path / "r.html")
    ex = subprocess.run([sys.executable, "-m", "agent", "export", str(rec), "--vars", "--out",
                         str(tmp_path / "fill" / "rec.yaml")], capture_output=True, text=True)
    assert ex.returncode == 0, ex.stderr
    script = (tmp_path / "fill" / "rec.yaml").read_text()
    assert "{%s}" % t.steps[1]["var"] in script and "{{secret:%s}}" % secret_name in script
    assert "double_click" in script and "drag" in script  # the drag kept as a note
    assert_no_canary(tmp_path / "fill")


def test_kill_9_keeps_complete_steps_and_they_replay(xdisplay, tmp_path, procs):
    state = tmp_path / "state.json"
    w = start_app(xdisplay.env, state, "520x440+60+40", procs)["widgets"]
    rec = tmp_path / "rec"
    recorder, log = start_recorder(xdisplay.env, rec, "--no-ocr")
    p = Person(xdisplay.env)
    p.click(w["name"])
    p.type("Carol")
    p.click(w["subscribe"])
    p.click(w["password"])
    p.type("in-flight")  # still being merged when the recorder dies
    deadline = time.monotonic() + 10
    while len((rec / "steps.jsonl").read_text().splitlines()) < 4:
        assert time.monotonic() < deadline, (rec / "steps.jsonl").read_text()
        time.sleep(0.05)
    os.kill(recorder.pid, signal.SIGKILL)
    recorder.wait(timeout=10)

    t = read_trajectory(rec)
    assert not t.sealed
    assert [st["action"]["type"] for st in t.steps] == ["click", "type", "click", "click"]
    assert "in-flight" not in (rec / "steps.jsonl").read_text()

    for proc in procs:
        proc.kill()
    state2 = tmp_path / "state2.json"
    start_app(xdisplay.env, state2, "520x440+600+300", procs)
    dry = replay(xdisplay.env, rec, tmp_path / "dry", "--dry-run", "--no-ocr")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert (tmp_path / "dry" / "images" / "000000-dryrun.png").is_file()  # annotated, nothing touched
    assert read_state(state2)["values"] == {"name": "", "password": "", "subscribed": False, "volume": 0}
    r = replay(xdisplay.env, rec, tmp_path / "replay", "--no-ocr")
    assert r.returncode == 0, r.stdout + r.stderr
    v = read_state(state2, lambda st: st["values"]["subscribed"])["values"]
    assert (v["name"], v["subscribed"]) == ("Carol", True)


def test_replay_stops_with_a_report_when_the_target_is_missing(xdisplay, tmp_path, procs, spawn_window):
    from tasks.apps.widgets import TITLE as WIDGETS

    state = tmp_path / "state.json"
    w = start_app(xdisplay.env, state, "520x440+60+40", procs)["widgets"]
    rec = tmp_path / "rec"
    recorder, log = start_recorder(xdisplay.env, rec, "--no-ocr")
    p = Person(xdisplay.env)
    p.click(w["save"])
    time.sleep(0.5)
    p.do("key", "ctrl+alt+s")
    assert recorder.wait(timeout=30) == 0, log.read_text()
    for proc in procs:
        proc.kill()
    wstate = tmp_path / "widgets.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(wstate),
                  "--geometry", "480x240+100+80"], title=WIDGETS)
    r = replay(xdisplay.env, rec, tmp_path / "replay", "--no-ocr", "--find-timeout", "1")
    assert r.returncode == 1
    assert "replay stopped at step 0" in r.stderr and "not found" in r.stderr
    shot = next((tmp_path / "replay" / "images").glob("000000-notfound.png"))
    assert shot.stat().st_size > 0
    assert json.loads(wstate.read_text())["clicks"] == 0  # nothing clicked blindly
    assert read_trajectory(tmp_path / "replay").steps[-1]["ok"] is False
    assert TITLE  # the recorded app's title, for the reader


def test_an_agent_do_trajectory_replays_on_a_moved_window(xdisplay, tmp_path, spawn_window):
    from tasks.apps.widgets import TITLE as WIDGETS

    st = tmp_path / "w.json"
    app = spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(st),
                        "--geometry", "480x240+100+80"], title=WIDGETS)
    w = read_state(st, lambda s: s["widgets"]["button"][2] > 1)["widgets"]
    (bx, by), (ex, ey) = ([int(v) for v in centre(w[k])] for k in ("button", "entry"))
    run = tmp_path / "do"
    r = subprocess.run([sys.executable, "-m", "agent", "do", json.dumps({"type": "click", "x": bx, "y": by}),
                        json.dumps({"type": "click", "x": ex, "y": ey}), json.dumps({"type": "type", "text": "hi"}),
                        "--out", str(run)], env=xdisplay.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    app.kill()
    app.wait()
    st2 = tmp_path / "w2.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(st2),
                  "--geometry", "480x240+640+420"], title=WIDGETS)
    read_state(st2, lambda s: s["widgets"]["button"][0] > 600)
    r = replay(xdisplay.env, run, tmp_path / "replay", "--no-ocr")
    assert r.returncode == 0, r.stdout + r.stderr
    s = read_state(st2, lambda s: s["text"] == "hi")
    assert s["clicks"] == 1


def test_dry_run_marks_what_it_cannot_find_and_counts_honestly(xdisplay, tmp_path, procs):
    state = tmp_path / "state.json"
    w = start_app(xdisplay.env, state, "520x440+60+40", procs)["widgets"]
    rec = tmp_path / "rec"
    recorder, log = start_recorder(xdisplay.env, rec, "--no-ocr")
    p = Person(xdisplay.env)
    p.click(w["name"])
    p.type("Zed")
    p.click(w["save"])
    p.do("key", "ctrl+alt+s")
    recorder.wait(timeout=30)
    for proc in procs:
        proc.kill()
        proc.wait(timeout=5)
    time.sleep(0.3)
    dry = replay(xdisplay.env, rec, tmp_path / "dry", "--dry-run", "--no-ocr")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    lines = dry.stdout.splitlines()
    assert not [ln for ln in lines if "NOT FOUND" in ln and "✓" in ln], dry.stdout
    assert len([ln for ln in lines if "NOT FOUND" in ln and "✗" in ln]) == 2, dry.stdout
    assert "1 of 3 steps ready on the current screen; 2 target(s) not found" in dry.stdout
