"""Replay time against the person's own time and against blind coordinate replay, and whether each
got the job right.

**web** (the default): a simulated person (xdotool, about an action a second) books a train on the
bundled site Rail&Go in Chromium (``tests/record_web.py``: autocomplete, calendar, native drop-down,
the row's Select button, details, card, Pay, New search) while ``agent record`` runs. The recording is
then replayed in three situations, each on a fresh site, two ways:

* (a) the same window; (b) the window moved and resized to 1100x720; (c) the site's "today" a month
  earlier (the calendar opens on November) and the results in another order;
* ``agent replay`` (elements re-found, identity checked, effects awaited, the calendar paged) and
  blind replay (the recorded actions at the recorded coordinates through the same safe executor and
  settle waits, nothing re-found).

Each run's result is read from the site's sqlite file: the recorded booking, a **wrong** booking (blind
replay pays for whatever is under the old coordinates), or nothing booked (a stop).

**tk**: the older 20-step Tk session (``tests/record_app.py``): ``agent replay`` with the window
moved, blind coordinates in place and moved.

    python bench/replay.py [web|tk|all]
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
TODAY = "2026-12-01"
WEB_CASES = (("(a) same window", {}), ("(b) moved, resized 1100x720", {"geometry": "1100x720+150+60"}),
             ("(c) other month, rows reordered", {"today": "2026-11-10", "order": "shuffle:2"}))


def blind(rec: Path, secret_env: dict[str, str]) -> float:
    """The recorded actions at the recorded coordinates through the safe executor, with settle waits
    (risky steps approved: a blind macro does not ask)."""
    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_yes
    from actions.space import action_from_json
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import read_trajectory

    os.environ.update(secret_env)
    steps = read_trajectory(rec).steps
    ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=200), confirmer=always_yes)
    with Screen() as screen:
        runner = StepRunner(ex, screen, None, model_size=None)
        t0 = time.monotonic()
        for s in steps:
            runner.act(action_from_json(s["action"]))
        return time.monotonic() - t0


def agent_replay(env: dict, rec: Path, out: Path, *extra: str) -> tuple[float, str]:
    r = subprocess.run([sys.executable, "-m", "agent", "replay", str(rec), "--out", str(out), "--no-kill-hotkey",
                        "--yes", *extra], env=env, cwd=ROOT, capture_output=True, text=True)
    status = json.loads((out / "manifest.json").read_text())["status"] if (out / "manifest.json").exists() else {}
    note = "" if r.returncode == 0 else f" (stopped: {(status.get('reason') or r.stderr.strip()[-200:])[:120]})"
    return status.get("elapsed_s", float("nan")), note


def web(tmp: Path) -> None:
    from agent.desktop.a11y_bus import AccessibilityBus, apply_env
    from tasks.apps.web.launch import start_site
    from tests.record_web import CARD, Booking, WebPerson, stored

    with VirtualDesktop((1280, 800)) as desk:
        os.environ["DISPLAY"] = desk.display
        bus = AccessibilityBus(desk.display).start()
        try:
            env = dict(desk.env)
            apply_env(bus.env, env)
            env.update({"CARD_NUMBER": CARD, "AGENT_CONFIG": "/nonexistent/agent.toml"})
            env = {k: v for k, v in env.items() if not k.startswith("AGENT_MODEL")}
            site = start_site(tmp / "site-rec", today=TODAY, env=env)
            rec = tmp / "booking"
            log = open(tmp / "rec.log", "w")
            recorder = subprocess.Popen([sys.executable, "-m", "agent", "record", str(rec), "--secret", "Card number"],
                                        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            while "recording to" not in (tmp / "rec.log").read_text():
                if recorder.poll() is not None:
                    raise SystemExit((tmp / "rec.log").read_text())
                time.sleep(0.05)
            want = Booking()
            person = WebPerson(site, env)
            person_s = person.book(want)
            assert stored(site.db_path) == [want.row()], stored(site.db_path)
            subprocess.run(["xdotool", "key", "ctrl+alt+s"], env=env, check=True)
            recorder.wait(timeout=120)
            site.stop()
            n = len((rec / "steps.jsonl").read_text().splitlines())
            rows = []
            for k, (name, kw) in enumerate(WEB_CASES):
                got = {}
                for how in ("agent replay", "blind"):
                    s = start_site(tmp / f"site-{k}-{how[0]}", env=env, **{"today": TODAY, **kw})
                    try:
                        if how == "blind":
                            secs, note = blind(rec, {"CARD_NUMBER": CARD}), ""
                        else:
                            secs, note = agent_replay(env, rec, tmp / f"replay-{k}")
                        time.sleep(1.0)
                        booked = stored(s.db_path)
                    finally:
                        s.stop()
                    verdict = ("right booking" if booked == [want.row()] else "nothing booked" if not booked
                               else f"WRONG booking: {booked[0][2]} {booked[0][3]}")
                    got[how] = (secs, verdict + note)
                rows.append((name, got))
        finally:
            bus.stop()
    print(f"web: Rail&Go in Chromium, {n} recorded steps ({person.actions} person actions), Xvfb 1280x800, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"  person (recording): {person_s:.1f} s")
    print(f"  {'case':34s} {'replay s':>9s} {'blind s':>8s} {'replay/person':>14s} {'replay/blind':>13s}  result")
    for name, got in rows:
        (rs, rv), (bs, bv) = got["agent replay"], got["blind"]
        print(f"  {name:34s} {rs:9.1f} {bs:8.1f} {rs / person_s:14.2f} {rs / bs:13.2f}  replay: {rv}; blind: {bv}")


# --- tk: the 20-step session of tests/record_app.py ---------------------------------------------
def app(env: dict, path: Path, geometry: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "tests.record_app", "--state", str(path), "--geometry", geometry],
                         env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    read_state(path, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)
    return p


def tk_person(env: dict, s: dict, path: Path) -> float:
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


def tk(tmp: Path) -> None:
    with VirtualDesktop((1280, 800)) as desk:
        os.environ["DISPLAY"] = desk.display
        env = desk.env
        st = tmp / "state.json"
        p = app(env, st, "520x440+60+40")
        rec = tmp / "rec"
        log = open(tmp / "tk-rec.log", "w")
        recorder = subprocess.Popen([sys.executable, "-m", "agent", "record", str(rec), "--no-ocr"], env=env,
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while "recording to" not in (tmp / "tk-rec.log").read_text():
            time.sleep(0.05)
        person_s = tk_person(env, read_state(st), st)
        want = read_state(st, lambda s: s["saved"] is not None)["saved"]
        time.sleep(0.6)
        subprocess.run(["xdotool", "key", "ctrl+alt+s"], env=env, check=True)
        recorder.wait(timeout=60)
        steps = (rec / "steps.jsonl").read_text().splitlines()
        p.kill()
        runs = {}
        for name, geometry in (("agent replay, window moved", "520x440+600+300"),
                               ("blind coordinates, same place", "520x440+60+40"),
                               ("blind coordinates, window moved", "520x440+600+300")):
            st2 = tmp / f"state-{len(runs)}.json"
            p = app(env, st2, geometry)
            if name.startswith("agent"):
                secs, _ = agent_replay({**env, "SECRET": "pw1234"}, rec, tmp / "tk-replay", "--no-ocr")
            else:
                secs = blind(rec, {"BENCH_PW": "pw1234"})
            time.sleep(0.5)
            got = json.loads(st2.read_text())["saved"]
            runs[name] = (secs, got == want)
            p.kill()
    print(f"tk: {len(steps)} recorded steps (tests/record_app.py, Xvfb 1280x800)")
    print(f"  {'person (recording)':34s} {person_s:6.2f} s")
    for name, (secs, ok) in runs.items():
        print(f"  {name:34s} {secs:6.2f} s   app state {'correct' if ok else 'WRONG'}")
    ours = runs["agent replay, window moved"][0]
    blind_s = runs["blind coordinates, same place"][0]
    print(f"  ratio replay / person: {ours / person_s:.2f}   replay / blind: {ours / blind_s:.2f}")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "web"
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    if which in ("web", "all"):
        web(tmp)
    if which in ("tk", "all"):
        tk(tmp)


if __name__ == "__main__":
    main()
