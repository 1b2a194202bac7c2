"""Replay time of a 20-step recorded session, against the person's own time and against blind
coordinate replay.

A simulated person (xdotool, ~0.6 s between actions, typing at ~10 characters/s) performs 20 steps in
a Tk app on a private Xvfb while ``agent record`` runs. Then the session is replayed three ways:

* ``agent replay`` (re-grounds every step by template match, waits for the screen to settle, checks
  the expected change) with the app window **moved**;
* blind coordinate replay (the recorded actions at the recorded coordinates through the same safe
  executor and settle waits, no re-grounding) with the window where it was recorded;
* blind coordinate replay with the window moved, to show what re-grounding buys.

Prints the times, the ratios and whether the app's own state came out right.

    python bench/replay.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.desktop import VirtualDesktop  # noqa: E402
from tasks.apps.state import read_state  # noqa: E402

PAUSE = 0.6


def app(env: dict, path: Path, geometry: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "tests.record_app", "--state", str(path), "--geometry", geometry],
                         env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    read_state(path, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)
    return p


def person(env: dict, s: dict, path: Path) -> float:
    """20 semantic steps, paced like a person. Returns the seconds from first to last action."""
    w = s["widgets"]

    def c(b):
        return str(b[0] + b[2] // 2), str(b[1] + b[3] // 2)

    def xd(*a: str, pause: float = PAUSE) -> None:
        subprocess.run(["xdotool", *a], env=env, check=True)
        time.sleep(pause)

    def click(b, n: int = 1) -> None:
        xd("mousemove", *c(b), pause=0.2)
        xd("click", "--repeat", str(n), "--delay", "80", "1")

    def typ(text: str) -> None:
        xd("type", "--delay", "100", text)

    t0 = time.monotonic()
    click(w["name"]); typ("Alice")                                    # 1 click, 2 type
    xd("key", "Tab"); typ("pw1234")                                   # 3 press, 4 type
    click(w["subscribe"]); click(w["subscribe"])                      # 5, 6
    sl = s["slider"]
    x, y = w["scale"][0] + int(sl[0]), w["scale"][1] + int(sl[1])
    xd("mousemove", str(x), str(y), pause=0.2); xd("mousedown", "1", pause=0.05)
    for k in range(1, 11):
        xd("mousemove", str(x + 9 * k), str(y), pause=0.03)
    xd("mouseup", "1")                                                # 7 drag
    xd("mousemove", *c(w["list"]), pause=0.2); xd("click", "5")      # 8 scroll
    xd("click", "4")                                                  # 9 scroll (separate: a pause between)
    xd("click", "5")                                                  # 10 scroll
    items = read_state(path)["visible_items"]
    click(list(items.values())[1], 2)                                 # 11 double click
    click(w["name"]); xd("key", "ctrl+a"); typ("Dr ")                 # 12 click, 13 hotkey, 14 type
    xd("key", "End"); typ(" Smith")                                   # 15 press, 16 type
    click(w["password"]); xd("key", "End"); typ("!")                  # 17 click, 18 press, 19 type
    click(w["save"])                                                  # 20 click
    return time.monotonic() - t0


def blind(rec: Path) -> float:
    """The recorded actions at the recorded coordinates through the safe executor, with settle waits."""
    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_yes
    from actions.space import action_from_json
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import read_trajectory

    steps = read_trajectory(rec).steps
    ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=100), confirmer=always_yes)
    with Screen() as screen:
        runner = StepRunner(ex, screen, None, model_size=None)
        t0 = time.monotonic()
        for s in steps:
            runner.act(action_from_json({**s["action"], "text": "{{secret:BENCH_PW}}"}
                                        if s.get("secret") else s["action"]))
        return time.monotonic() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    with VirtualDesktop((1280, 800)) as desk:
        os.environ["DISPLAY"] = desk.display
        env = desk.env
        st = tmp / "state.json"
        p = app(env, st, "520x440+60+40")
        rec = tmp / "rec"
        log = open(tmp / "rec.log", "w")
        recorder = subprocess.Popen([sys.executable, "-m", "agent", "record", str(rec), "--no-ocr"], env=env,
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while "recording to" not in (tmp / "rec.log").read_text():
            time.sleep(0.05)
        person_s = person(env, read_state(st), st)
        want = read_state(st, lambda s: s["saved"] is not None)["saved"]
        time.sleep(0.6)
        subprocess.run(["xdotool", "key", "ctrl+alt+s"], env=env, check=True)
        recorder.wait(timeout=60)
        steps = [json.loads(line) for line in (rec / "steps.jsonl").read_text().splitlines()]
        p.kill()

        runs = {}
        for name, geometry in (("agent replay, window moved", "520x440+600+300"),
                               ("blind coordinates, same place", "520x440+60+40"),
                               ("blind coordinates, window moved", "520x440+600+300")):
            st2 = tmp / f"state-{len(runs)}.json"
            p = app(env, st2, geometry)
            if name.startswith("agent"):
                out = tmp / "replay"
                r = subprocess.run([sys.executable, "-m", "agent", "replay", str(rec), "--out", str(out),
                                    "--no-ocr", "--no-kill-hotkey"], env={**env, "SECRET": "pw1234"},
                                   cwd=ROOT, capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stdout, r.stderr)
                secs = json.loads((out / "manifest.json").read_text())["status"].get("elapsed_s", float("nan"))
            else:
                os.environ["BENCH_PW"] = "pw1234"
                secs = blind(rec)
            time.sleep(0.5)
            got = json.loads(st2.read_text())["saved"]
            runs[name] = (secs, got == want)
            p.kill()

    print(f"session: {len(steps)} recorded steps (Xvfb 1280x800, {os.cpu_count()} cores)")
    print(f"{'person (recording)':34s} {person_s:6.2f} s")
    for name, (secs, ok) in runs.items():
        print(f"{name:34s} {secs:6.2f} s   app state {'correct' if ok else 'WRONG'}")
    ours = runs["agent replay, window moved"][0]
    blind_s = runs["blind coordinates, same place"][0]
    print(f"ratio replay / person: {ours / person_s:.2f}   replay / blind: {ours / blind_s:.2f}")
    print(f"per step: replay {ours / len(steps) * 1000:.0f} ms, blind {blind_s / len(steps) * 1000:.0f} ms, "
          f"person {person_s / len(steps) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
