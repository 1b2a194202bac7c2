"""How a recording ends. ``kill -9`` while steps wait for a (slow) labeller loses at most the
documented number, and the rest reads back in order; SIGTERM and Ctrl-C drain the queue and seal
the trajectory; ``agent record --virtual`` prints its DISPLAY so xdotool (a person) can work there;
the display going away ends the recording cleanly. stderr holds only our own notes, never an Xlib
traceback from pynput's threads."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.desktop import VirtualDesktop
from agent.record.labelling import BACKLOG
from agent.trajectory import read_trajectory

pytestmark = pytest.mark.display
#: What kill -9 may lose: the queue (BACKLOG), the step being written, the step still being merged.
KILL_BOUND = BACKLOG + 2
PLAN = ["click", "type", "click", "type", "click", "type"]


def launch(cmd: list[str], env: dict, tmp: Path, name: str, timeout: float = 90):
    out, err = tmp / f"{name}.out", tmp / f"{name}.err"
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=open(out, "w"), stderr=open(err, "w"),
                            start_new_session=True)  # its own process group, like a job in a terminal
    deadline = time.monotonic() + timeout
    while "recording to" not in out.read_text():
        assert proc.poll() is None, out.read_text() + err.read_text()
        assert time.monotonic() < deadline, "the recorder did not start"
        time.sleep(0.05)
    return proc, out, err


def person(env: dict, plan=PLAN, pace: float = 0.5) -> None:
    """Clicks on the bare desktop and single keys, alternating, so each action is its own step."""
    for i, kind in enumerate(plan):
        if kind == "click":
            subprocess.run(["xdotool", "mousemove", str(100 + 60 * i), "200", "click", "1"], env=env, check=True)
        else:
            subprocess.run(["xdotool", "key", "abcdefgh"[i]], env=env, check=True)
        time.sleep(pace)


def steps_on_disk(rec: Path) -> int:
    p = rec / "steps.jsonl"
    return len(p.read_text().splitlines()) if p.exists() else 0


def wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def only_our_notes(err: Path) -> list[str]:
    lines = [ln for ln in err.read_text().splitlines() if ln.strip()]
    assert all(ln.startswith("note:") for ln in lines), "stderr holds more than our notes:\n" + err.read_text()
    return lines


def slow_recorder(rec: Path, calls: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.slow_label_recorder", str(rec), "--delay", "2.5", "--calls", str(calls), *extra]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_kill_9_during_labelling_loses_at_most_the_queue_and_keeps_order(xdisplay, tmp_path):
    rec, calls = tmp_path / "rec", tmp_path / "calls.txt"
    proc, out, err = launch(slow_recorder(rec, calls), xdisplay.env, tmp_path, "rec")
    try:
        person(xdisplay.env)
        wait_for(lambda: calls.exists() and len(calls.read_text().splitlines()) >= 2, 30, "labelling never started")
        assert steps_on_disk(rec) < len(PLAN), "everything was written already: the kill proves nothing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    t = read_trajectory(rec)
    assert not t.sealed
    kinds = [st["action"]["type"] for st in t.steps]
    assert kinds == PLAN[:len(kinds)], kinds  # in order, a prefix of what the person did
    assert [st["index"] for st in t.steps] == list(range(len(kinds)))
    assert all(st["anchor"]["label"] == "slow-click" for st in t.steps if st["action"]["type"] == "click")
    lost = len(PLAN) - len(kinds)
    print(f"\nkill -9 with {len(PLAN)} steps done: {len(kinds)} on disk, {lost} lost (bound {KILL_BOUND})")
    assert 1 <= lost <= KILL_BOUND
    labeller_pid = int(calls.read_text().split()[0])
    wait_for(lambda: gone(labeller_pid), 15, "the labeller process outlived the recorder")


def test_sigterm_drains_the_queue_then_seals(xdisplay, tmp_path):
    rec, calls = tmp_path / "rec", tmp_path / "calls.txt"
    proc, out, err = launch(slow_recorder(rec, calls, "--drain", "3"), xdisplay.env, tmp_path, "rec")
    try:
        person(xdisplay.env)
        wait_for(lambda: calls.exists(), 30, "labelling never started")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, out.read_text() + err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    t = read_trajectory(rec)
    assert t.sealed and not t.problems
    assert [st["action"]["type"] for st in t.steps] == PLAN  # the open typing step too
    status = t.manifest["status"]
    assert status["stopped_by"] == "terminate" and status["lost_steps"] == 0
    labels = [(st.get("anchor") or st.get("labels") or {}) for st in t.steps]
    assert any(a.get("label", "").startswith("slow-") for a in labels)  # labelled while draining ...
    assert any("stopping" in (a.get("label_error") or "") for a in labels)  # ... the rest after the deadline
    only_our_notes(err)
    pid = int(calls.read_text().split()[0])
    wait_for(lambda: gone(pid), 15, "the labeller process outlived the recorder")


@pytest.mark.parametrize("sig, extra", [(signal.SIGTERM, ["--no-ocr"]), (signal.SIGINT, [])],
                         ids=["sigterm-no-ocr", "ctrl-c-ocr"])
def test_virtual_prints_its_display_and_a_signal_stops_it_cleanly(tmp_path, sig, extra):
    rec = tmp_path / "rec"
    proc, out, err = launch([sys.executable, "-m", "agent", "record", str(rec), "--virtual", *extra],
                            dict(os.environ), tmp_path, "rec")
    try:
        m = re.search(r"^DISPLAY=(:\d+)", out.read_text(), re.M)
        assert m, out.read_text()
        env = {**os.environ, "DISPLAY": m.group(1)}
        subprocess.run(["xdotool", "mousemove", "300", "200", "click", "1"], env=env, check=True)
        if sig == signal.SIGTERM:
            wait_for(lambda: steps_on_disk(rec) == 1, 60, "the click on the virtual desktop was not recorded")
            proc.send_signal(sig)
        else:  # Ctrl-C at a terminal: the whole process group, while the click still waits to be labelled
            time.sleep(0.1)
            os.killpg(proc.pid, sig)
        assert proc.wait(timeout=60) == 0, out.read_text() + err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGTERM:
        assert err.read_text().strip() == "", err.read_text()
    else:
        assert only_our_notes(err) == ["note: writing the last 1 step(s) ..."]
    t = read_trajectory(rec)
    assert t.sealed and [st["action"]["type"] for st in t.steps] == ["click"]
    assert t.manifest["status"]["stopped_by"] == ("terminate" if sig == signal.SIGTERM else "interrupt")
    assert "recorded 1 steps" in out.read_text()
    if sig == signal.SIGINT:  # the labeller process outlived the Ctrl-C and labelled the click
        assert "label_error" not in t.steps[0]["anchor"], t.steps[0]["anchor"]


def test_the_display_going_away_ends_the_recording_cleanly(tmp_path):
    rec = tmp_path / "rec"
    desk = VirtualDesktop((800, 600)).start()
    try:
        proc, out, err = launch([sys.executable, "-m", "agent", "record", str(rec), "--no-ocr"], desk.env,
                                tmp_path, "rec")
        subprocess.run(["xdotool", "mousemove", "200", "200", "click", "1"], env=desk.env, check=True)
        wait_for(lambda: steps_on_disk(rec) == 1, 60, "the click was not recorded")
    finally:
        desk.stop()
    try:
        assert proc.wait(timeout=60) == 0, out.read_text() + err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    notes = only_our_notes(err)
    assert any("display went away" in n for n in notes), notes
    t = read_trajectory(rec)
    assert t.sealed and t.manifest["status"]["stopped_by"] == "display-lost"
    assert [st["action"]["type"] for st in t.steps] == ["click"]
