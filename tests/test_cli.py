"""The `agent` command line, run as a person runs it: a subprocess with no terminal attached."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HANG_S

from tasks.apps.widgets import TITLE


def agent(*args: str, env=None, timeout=HANG_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=timeout)


def test_help_lists_the_commands():
    r = agent("--help")
    assert r.returncode == 0
    for cmd in ("desktop", "doctor", "do", "screenshot", "verify", "demo"):
        assert cmd in r.stdout


def test_do_dry_run_writes_a_trajectory(tmp_path):
    out = tmp_path / "t"
    r = agent("do", "--dry-run", "--out", str(out), '{"type": "click", "x": 10, "y": 20}',
              '{"type": "hotkey", "keys": ["ctrl", "s"]}')
    assert r.returncode == 0, r.stderr
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["action"]["type"] for s in steps] == ["click", "hotkey"]
    assert json.loads((out / "manifest.json").read_text())["status"]["ok"] is True
    assert agent("verify", str(out)).returncode == 0


def test_do_rejects_bad_actions_before_touching_anything(tmp_path):
    r = agent("do", "--dry-run", '{"type": "press", "key": "entr"}')
    assert r.returncode == 2 and "argument 1: unknown key name 'entr'" in r.stderr
    f = tmp_path / "a.jsonl"
    f.write_text('{"type": "click", "x": 1, "y": 1}\n{"type": "click", "x": 1, "y": 1, "clicks": -1}\n')
    r = agent("do", "--dry-run", "--file", str(f))
    assert r.returncode == 2 and f"{f}:2: clicks must be 1..3" in r.stderr


def test_verify_reports_a_torn_recording(tmp_path):
    out = tmp_path / "t"
    assert agent("do", "--dry-run", "--out", str(out), '{"type": "wait", "seconds": 0}').returncode == 0
    (out / "manifest.json").unlink()
    with open(out / "steps.jsonl", "a") as f:
        f.write('{"action": {"type": "cli')  # what kill -9 leaves
    r = agent("verify", str(out))
    assert r.returncode == 1
    assert "1 complete steps" in r.stdout and "torn" in r.stdout.lower()


@pytest.mark.display
def test_risky_action_denied_without_a_terminal(xdisplay, spawn_window, tmp_path):
    state = tmp_path / "w.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(state),
                  "--geometry", "480x240+100+80"], title=TITLE)
    time.sleep(0.2)
    st = json.loads(state.read_text())
    x, y, w, h = st["widgets"]["button"]
    click = json.dumps({"type": "click", "x": x + w // 2, "y": y + h // 2, "target": "Submit order"})
    out = tmp_path / "run"
    r = agent("do", "--out", str(out), click, env=xdisplay.env)
    assert r.returncode == 3 and "not approved" in r.stderr
    assert json.loads(state.read_text())["clicks"] == 0
    steps = (out / "steps.jsonl").read_text()
    assert "safety_stop" in steps
    r = agent("do", "--yes", click, env=xdisplay.env)  # --yes approves
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while json.loads(state.read_text())["clicks"] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(state.read_text())["clicks"] == 1
    r = agent("do", '{"type": "click", "x": 5000, "y": 10}', env=xdisplay.env)
    assert r.returncode == 1 and "outside the screen" in r.stdout


@pytest.mark.display
def test_screenshot_command(xdisplay, tmp_path):
    from PIL import Image

    out = tmp_path / "s.jpg"
    r = agent("screenshot", str(out), "--max-size", "640x640", env=xdisplay.env)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (640, 400)


def test_demo_passes_end_to_end(tmp_path):
    r = agent("demo", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "demo passed" in r.stdout and "secret in files written: no" in r.stdout
    assert (tmp_path / "demo" / "trajectory" / "manifest.json").exists()
    assert (tmp_path / "demo" / "trajectory-report.html").exists()
    assert len(list((tmp_path / "demo" / "trajectory" / "images").iterdir())) >= 15


def test_desktop_command_prints_display_and_cleans_up_on_ctrl_c():
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "agent", "desktop", "--size", "800x600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("DISPLAY=:"), line
        n = line.split(":", 1)[1]
        info = subprocess.run(["xdpyinfo", "-display", f":{n}"], capture_output=True, text=True, timeout=10)
        assert "800x600 pixels" in info.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert not Path(f"/tmp/.X{n}-lock").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_version_flag_and_a_missing_actions_file(tmp_path):
    r = agent("--version")
    assert r.returncode == 0 and r.stdout.startswith("desk-agent ")
    assert agent("version").stdout == r.stdout
    r = agent("do", "--dry-run", "--file", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cannot read it" in r.stderr and "Traceback" not in r.stderr
