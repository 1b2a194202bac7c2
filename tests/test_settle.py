"""The settle after an action (``agent.screen.settle`` through ``StepRunner.act``) on a real Tk window on
Xvfb, clicked by real pyautogui input: an app that answers 0, 100 and 500 ms after the click and draws
its answer in three stages (tests/staged_app.py) is only ever returned complete, and a blinking caret
and a turning spinner neither keep the wait going nor count as the action's effect.

Correctness is asserted strictly (every stage of the right round is in the returned frame); timing
only loosely (the figures belong to bench/loop_overhead.py): the runner's windows are widened so a
busy machine cannot stretch the app's own pauses past them.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

from agent.screen import Region
from agent.screen.settle import settle
from agent.steps import SettleConfig, StepRunner
from tests.staged_app import TITLE, colours, rgb

pytestmark = pytest.mark.display


def start(spawn_window, tmp_path, *extra: str) -> dict:
    state = tmp_path / "staged.json"
    spawn_window([sys.executable, "-m", "tests.staged_app", "--state", str(state), *extra], title=TITLE)
    deadline = time.monotonic() + 30
    while True:
        try:
            s = json.loads(state.read_text())
            if s["focused"] and s["boxes"]["go"][2] > 1:
                return {"path": state, **s}
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        assert time.monotonic() < deadline, "staged app did not report its layout and focus"
        time.sleep(0.05)


def make_runner(screen, **settle) -> StepRunner:
    from actions.backends import PyAutoGUIBackend  # binds $DISPLAY at import
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no

    ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=100), confirmer=always_no)
    return StepRunner(ex, screen, None, settle=SettleConfig(**settle), model_size=None)


def stages_shown(frame, page: list[int], n: int) -> list[bool]:
    """Which of round ``n``'s three stages ``frame`` shows (top band, bottom band, marker)."""
    x, y = page[0], page[1]
    c = [rgb(v) for v in colours(n)]
    return [frame.pixel(x + 100, y + 50) == c[0], frame.pixel(x + 100, y + 200) == c[1],
            frame.pixel(x + 570, y + 120) == c[2]]


@pytest.mark.parametrize("damage", [True, False], ids=["damage", "polling"])
def test_a_late_answer_drawn_in_stages_is_returned_complete(screen, spawn_window, tmp_path, damage):
    """Delays of 0, 100 and 500 ms, twice each, with the caret blinking every 150 ms and a spinner turning
    every 30 ms: the frame after each click holds all three stages of that click's round, never the
    round before or a part of it; whether the settle waits on the X server's damage reports or polls."""
    from actions.space import Click

    assert screen.damage() is not None  # Xvfb reports drawing: the default path is the damage one
    app = start(spawn_window, tmp_path, "--delays", "0,100,500", "--blink", "150", "--spinner")
    go, page = app["boxes"]["go"], app["boxes"]["page"]
    runner = make_runner(screen, stable_for=0.15, first_change=5.0, timeout=10.0, damage=damage)
    runner.observe()
    for n in range(1, 7):
        out = runner.act(Click(go[0] + go[2] / 2, go[1] + go[3] / 2))
        frame = out.observation.frame
        shown = stages_shown(frame, page, n)
        assert shown == [True, True, True], f"round {n} (delay {(0, 100, 500)[(n - 1) % 3]} ms): stages {shown}"
        assert out.settle.first_change_s is not None  # the answer was waited for, not a blink
        assert json.loads(app["path"].read_text())["n"] == n  # one click each, none lost or doubled


def test_motion_nobody_saw_before_is_not_the_effect(screen, spawn_window, tmp_path):
    """Nothing is known about the screen before the click (no earlier settle): the spinner's first turn
    is a small change, but it turns again, so it is motion; the answer 500 ms later is the effect."""
    import pyautogui

    app = start(spawn_window, tmp_path, "--delays", "500", "--spinner")
    go, page = app["boxes"]["go"], app["boxes"]["page"]
    pre = screen.capture()
    pyautogui.click(go[0] + go[2] / 2, go[1] + go[3] / 2)
    s = settle(screen, before=pre, first_change=5.0, quiet=0.1, timeout=10.0)
    assert stages_shown(s.frame, page, 1) == [True, True, True]
    spinner = Region(*app["boxes"]["spinner"])
    assert s.first_change_s >= 0.4 and any(m.intersect(spinner) for m in s.moving)


def test_a_page_wiped_blank_is_waited_out(screen, spawn_window, tmp_path):
    """The answer first wipes the page blank and draws the next one 150 ms later (a busy app building its
    next page): a blank area is not taken for the final picture, although the default quiet window
    (40 ms) passes while it is blank."""
    from actions.space import Click

    app = start(spawn_window, tmp_path, "--wipe-ms", "150")
    go, page = app["boxes"]["go"], app["boxes"]["page"]
    runner = make_runner(screen, first_change=5.0, wiped_quiet=2.0, timeout=10.0)
    runner.observe()
    for n in (1, 2):
        frame = runner.act(Click(go[0] + go[2] / 2, go[1] + go[3] / 2)).observation.frame
        assert stages_shown(frame, page, n) == [True, True, True]


def test_a_small_plain_change_is_no_wiped_page(screen, spawn_window, tmp_path):
    """A checkbox's tick leaves a tiny area in two colours: that is the answer, not a page wiped blank
    (which would be waited out for ``wiped_quiet``, here 5 s)."""
    from actions.space import Click
    from tasks.apps.widgets import TITLE as WIDGETS

    state = tmp_path / "w.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(state), "--geometry", "480x240+300+200"],
                 title=WIDGETS)
    from tasks.apps.state import read_state

    box = read_state(state, lambda s: s.get("widgets", {}).get("checkbox", [0, 0, 0])[2] > 1)["widgets"]["checkbox"]
    runner = make_runner(screen, wiped_quiet=5.0, timeout=10.0)
    runner.observe()
    for checked in (True, False):
        out = runner.act(Click(box[0] + 15, box[1] + box[3] / 2))
        assert read_state(state, lambda s, c=checked: s["checked"] == c)["checked"] == checked
        assert out.settle.first_change_s is not None and out.settle.waited_s < 4.0


def test_motion_does_not_keep_the_wait_going(screen, spawn_window, tmp_path):
    """A caret toggling every 20 ms and a spinner every 30 ms: the old wait for identical frames never ends
    (it gives up after its timeout); the settle ends as soon as nothing but motion changes, and reports
    where the motion is once it saw it change twice."""
    from agent.screen import wait_settled

    app = start(spawn_window, tmp_path, "--blink", "20", "--spinner")
    old = wait_settled(screen, stable_for=0.15, timeout=1.0)
    assert not old.settled
    s = settle(screen, timeout=10.0)
    assert s.settled and s.waited_s < 5.0
    s = settle(screen, quiet=0.2, timeout=10.0)  # long enough to see the spinner turn a few times
    spinner = Region(*app["boxes"]["spinner"])
    assert s.settled and any(m.intersect(spinner) for m in s.moving), s.moving


def test_nothing_happening_ends_after_the_first_change_bound(screen, spawn_window, tmp_path):
    """A click that changes nothing (on the empty page, the caret blinking): the wait looks for the first
    change for ``first_change`` seconds, then ends settled, telling that none came."""
    from actions.space import Click

    app = start(spawn_window, tmp_path, "--blink", "100")
    page = app["boxes"]["page"]
    runner = make_runner(screen, first_change=0.6)
    runner.observe()
    out = runner.act(Click(page[0] + 300, page[1] + 120))
    assert out.settle.settled and out.settle.first_change_s is None
    assert out.settle.waited_s >= 0.6


def test_observation_encoded_once_for_the_model_and_the_trajectory(screen, spawn_window, tmp_path):
    """The screenshot the model is sent and the trajectory's "before" image are the same bytes, made once;
    its half-size history copy is made once too."""
    from actions.space import Click
    from agent.trajectory import TrajectoryWriter, read_trajectory
    from model.family import half_size

    app = start(spawn_window, tmp_path)
    go = app["boxes"]["go"]
    with TrajectoryWriter(tmp_path / "traj", kind="test") as writer:
        runner = make_runner(screen)
        runner.writer = writer
        obs = runner.observe()
        part = obs.encoded("png")
        assert obs.encoded("png") is part  # cached
        runner.act(Click(go[0] + go[2] / 2, go[1] + go[3] / 2))
    step = read_trajectory(tmp_path / "traj").steps[0]
    assert (tmp_path / "traj" / step["screenshot"]).read_bytes() == part.data
    assert part.to_pil().tobytes() == obs.image.tobytes()  # lossless
    half = half_size(part)
    assert half_size(part) is half and (half.width, half.height) == (obs.image.width // 2, obs.image.height // 2)
