"""The executor on a real virtual screen: real pyautogui input into a real Tk window, whose own
state (written by the app, not by us) proves what landed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from actions.errors import FailSafeTriggered, KillSwitchPressed
from actions.executor import Executor
from actions.killswitch import KillSwitch, StopFlag
from actions.safety import SafetyPolicy, always_no
from actions.space import Click, Hotkey, MoveTo, TypeText
from tasks.apps.state import read_state
from tasks.apps.widgets import TITLE

pytestmark = pytest.mark.display


def centre(box):
    x, y, w, h = box
    return x + w / 2, y + h / 2


@pytest.fixture
def widgets(spawn_window, tmp_path):
    state = tmp_path / "state.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(state),
                  "--geometry", "480x240+100+80"], title=TITLE)
    read_state(state, lambda s: s["widgets"]["button"][2] > 1)
    return state


@pytest.fixture
def executor(xdisplay):
    from actions.backends import PyAutoGUIBackend

    backend = PyAutoGUIBackend()
    backend.move(640, 400)  # away from the fail-safe corners
    return Executor(backend, SafetyPolicy(), confirmer=always_no)


def test_click_type_toggle_land_in_the_window(widgets, executor):
    s = read_state(widgets)
    assert executor.execute(Click(*centre(s["widgets"]["button"]))).ok
    read_state(widgets, lambda st: st["clicks"] == 1)  # one click, then a double click: 1 + 2, each seen
    assert executor.execute(Click(*centre(s["widgets"]["button"]), clicks=2)).ok
    read_state(widgets, lambda st: st["clicks"] == 3)
    assert executor.execute(Click(*centre(s["widgets"]["entry"]))).ok
    assert executor.execute(TypeText("Hello, desk-agent! 123")).ok
    read_state(widgets, lambda st: st["text"] == "Hello, desk-agent! 123")
    assert executor.execute(Hotkey(("ctrl", "a"))).ok  # Tk entry: ctrl+a = line start
    assert executor.execute(TypeText(">")).ok
    read_state(widgets, lambda st: st["text"] == ">Hello, desk-agent! 123")
    assert executor.execute(Click(*centre(s["widgets"]["checkbox"]))).ok
    st = read_state(widgets, lambda st: st["checked"])
    assert executor.execute(Click(*centre(s["widgets"]["checkbox"]))).ok
    st = read_state(widgets, lambda st: not st["checked"])
    assert st["events"].count("toggle") == 2


def test_out_of_bounds_click_is_rejected_on_the_real_screen(widgets, executor):
    r = executor.execute(Click(1280, 400))
    assert not r.ok and "outside the screen 1280x800+0+0" in r.error
    assert read_state(widgets)["clicks"] == 0


def test_kill_hotkey_stops_long_typing_within_200ms(widgets, executor, xdisplay):
    s = read_state(widgets)
    executor.execute(Click(*centre(s["widgets"]["entry"])))
    stop = StopFlag()
    ex = Executor(executor.backend, SafetyPolicy(type_chunk=4), confirmer=always_no, stop=stop)
    writes: list[tuple[float, int]] = []
    real_write = ex.backend.write

    def timed_write(text):
        real_write(text)
        writes.append((time.monotonic(), len(text)))

    ex.backend.write = timed_write
    sent_at: list[float] = []

    def press_hotkey():
        time.sleep(0.4)
        sent_at.append(time.monotonic())
        subprocess.run(["xdotool", "key", "ctrl+alt+k"], env=xdisplay.env, check=True)

    text = "0123456789" * 200  # 2,000 characters
    with KillSwitch(stop, "<ctrl>+<alt>+k"):
        t = threading.Thread(target=press_hotkey)
        t.start()
        with pytest.raises(KillSwitchPressed):
            ex.execute(TypeText(text))
        stopped = time.monotonic()
        t.join()
    latency = stopped - sent_at[0]
    print(f"kill latency {latency*1000:.1f} ms, typed {sum(n for _, n in writes)} chars before the stop")
    assert latency < 0.2, f"typing stopped {latency * 1000:.0f} ms after the hotkey"
    typed = sum(n for _, n in writes)
    assert 0 < typed < len(text), "the hotkey came before or after the typing"
    assert all(w <= stopped for w, _ in writes)
    time.sleep(0.5)  # let the app drain its event queue
    first = read_state(widgets)["text"]
    time.sleep(0.5)
    final = read_state(widgets)["text"]
    assert final == first, "characters arrived after the stop"
    assert 0 < len(final) <= typed  # keys typed while ctrl/alt were held are swallowed by Tk
    assert text.startswith(final[:10])


def test_fail_safe_corner_stops_input(widgets, executor, xdisplay):
    subprocess.run(["xdotool", "mousemove", "0", "0"], env=xdisplay.env, check=True)
    with pytest.raises(FailSafeTriggered):
        executor.execute(Click(300, 300))
    assert read_state(widgets)["clicks"] == 0
    executor.backend._pg.FAILSAFE = True  # still on
    subprocess.run(["xdotool", "mousemove", "640", "400"], env=xdisplay.env, check=True)
    assert Executor(executor.backend, confirmer=always_no).execute(MoveTo(10, 10)).ok


def test_secret_typed_for_real_never_written(widgets, executor, tmp_path, monkeypatch):
    from agent.trajectory import TrajectoryWriter

    canary = "Canary-7f3e-SECRET"
    monkeypatch.setenv("DESK_X11_PW", canary)
    s = read_state(widgets)
    executor.execute(Click(*centre(s["widgets"]["entry"])))
    out = tmp_path / "run"
    with TrajectoryWriter(out, kind="run", meta={"goal": "type the password"}) as w:
        r = executor.execute(TypeText("{{secret:DESK_X11_PW}}"))
        w.append({"action": r.action.to_json(), "result": r.to_json(), "log": r.action.describe()})
    read_state(widgets, lambda st: st["text"] == canary)  # the app got the real value
    for f in out.rglob("*"):
        if f.is_file():
            assert canary.encode() not in f.read_bytes(), f
    assert "{{secret:DESK_X11_PW}}" in (out / "steps.jsonl").read_text()


def test_secret_shown_in_a_field_is_blacked_out_of_saved_screenshots(widgets, executor, tmp_path, monkeypatch):
    """The widgets entry shows what is typed: the value must not be readable in any saved screenshot."""
    import numpy as np
    from PIL import Image

    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter
    from model.ocr import get_engine

    canary = "CANARY4471SECRET"
    monkeypatch.setenv("DESK_X11_SHOWN", canary)
    s = read_state(widgets)
    out = tmp_path / "run"
    with Screen() as screen, TrajectoryWriter(out, kind="run") as w:
        runner = StepRunner(executor, screen, w, model_size=None)
        runner.act(Click(*centre(s["widgets"]["entry"])))
        runner.act(TypeText("{{secret:DESK_X11_SHOWN}}"))
        runner.act(Click(*centre(s["widgets"]["button"])))  # its "before" screenshot shows the field
        live = screen.capture().image
    read_state(widgets, lambda st: st["text"] == canary)
    ocr = get_engine("rapidocr")
    read_live = " ".join(b.text for b in ocr.read(np.asarray(live)))
    assert canary in read_live.replace(" ", "")  # the secret really is on screen ...
    saved = sorted((out / "images").iterdir())
    assert len(saved) == 3
    for p in saved[2:]:  # ... but not in what was written after typing it
        text = " ".join(b.text for b in ocr.read(np.asarray(Image.open(p).convert("RGB"))))
        assert canary not in text.replace(" ", "") and "4471" not in text, (p, text)
