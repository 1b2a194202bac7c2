"""Looking again before acting on a slow answer (``agent.recheck``), on a real Tk window on Xvfb.

Through ``agent run`` with a local OpenAI-compatible server that takes its time: while the model
"thinks", the window's layout shifts (a banner pushes Go down and puts Stop where Go was). The answer,
a click on Go as the old picture showed it, is not carried out; the model is shown the new screen,
told why, and its second answer clicks Go where it is now. Stop is never clicked. A caret blinking and
a spinner turning while it thinks are no reason to ask again.

In process, with a screen that changes during every model call: at most two re-asks in a row, then the
answer is carried out and its step says the screen had changed.
"""

from __future__ import annotations

import json
import time

import pytest

from tasks.apps.state import read_state
from tests.test_run_e2e import glm, request_images, request_text, run_agent, thousandths
from tests.test_settle import start

pytestmark = pytest.mark.display

BANNER = (0xFF, 0xE0, 0x8A)


def click(box, name: str) -> str:
    x, y = thousandths(box)
    return glm(f"left_click(start_box='[{x},{y}]', element_info='{name}')", f"Click {name}.")


def test_a_slow_answer_is_not_carried_out_on_a_changed_screen(spawn_window, xdisplay, tmp_path):
    shift = tmp_path / "shift"
    app = start(spawn_window, tmp_path, "--blink", "100", "--spinner", "--shift-file", str(shift))
    old_go = app["boxes"]["go"]

    def slow(answer: str):
        def reply(body: dict) -> str:
            time.sleep(0.8)
            return answer
        return reply

    # 1. only motion while the model thinks: its answer is carried out at once
    from tests.fake_openai import FakeOpenAI

    answers = iter([click(old_go, "Go"), glm("DONE()", "Done.")])
    with FakeOpenAI(lambda body: slow(next(answers))(body)) as srv:
        r = run_agent("press Go", srv.url, xdisplay, tmp_path / "calm", "--recheck-after", "0.3", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(srv.requests) == 2
    assert json.loads(app["path"].read_text())["clicks"] == {"go": 1, "stop": 0}

    # 2. the layout shifts while the model thinks about its first answer
    def answer(body: dict) -> str:
        n = len(srv.requests)
        if n == 1:
            shift.touch()
            read_state(app["path"], lambda s: s["shifted"])
            time.sleep(0.5)  # thought long enough to be looked at again (--recheck-after 0.3)
            return click(old_go, "Go")  # the old picture's Go: Stop is there now
        if n == 2:
            return click(json.loads(app["path"].read_text())["boxes"]["go"], "Go")
        return glm("DONE()", "Done.")

    out = tmp_path / "shifted"
    with FakeOpenAI(answer) as srv:
        r = run_agent("press Go", srv.url, xdisplay, out, "--recheck-after", "0.3", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads(app["path"].read_text())
    assert state["clicks"] == {"go": 2, "stop": 0}
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    stale = [s for s in steps if s.get("screen_changed")]
    assert len(stale) == 1 and "action" not in stale[0]
    assert stale[0]["not_carried_out"]["type"] == "click" and stale[0]["screenshot"]
    texts = [request_text(q["body"]) for q in srv.requests]
    assert len(texts) == 3 and "screen changed while you were thinking" in texts[1]
    first, second = (request_images(q["body"])[-1].convert("RGB") for q in srv.requests[:2])
    assert first.getpixel((400, 130)) != BANNER and second.getpixel((400, 130)) == BANNER
    assert "not carried out" in r.stdout
    from agent.trajectory.report_view import build

    shown = [v for v in build(out)["steps"] if v["kind"] == "asked again"]
    assert len(shown) == 1 and shown[0]["status"]["text"].startswith("click") and shown[0]["after"]


def test_re_asks_are_bounded(screen, xdisplay, tmp_path):
    """Every model call takes 0.35 s and repaints a window meanwhile: an answer is asked again at most
    twice in a row; the third is carried out and its step says the screen had changed."""
    import tkinter as tk

    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy, always_no
    from agent.loop import LoopConfig, run_episode
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter, read_trajectory
    from model.base import ScriptedModel
    from model.families import get_family

    root = tk.Tk()
    root.geometry("300x200+900+500")
    root.configure(bg="#204080")
    root.update()
    shades = iter(f"#{40 + 10 * i:02x}8040" for i in range(20))

    class Slow(ScriptedModel):
        def generate(self, messages, config=None):  # noqa: ANN001
            root.configure(bg=next(shades))
            root.update()
            time.sleep(0.35)
            return super().generate(messages, config)

    press = "Press escape.\n<|begin_of_box|>key(keys='escape')<|end_of_box|>\nMemory:\n[]"
    model = Slow([press] * 3 + ["DONE()"] * 3)
    ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=10), confirmer=always_no)
    try:
        with TrajectoryWriter(tmp_path / "traj", kind="test") as writer:
            runner = StepRunner(ex, screen, writer)
            res = run_episode("press escape", model=model, family=get_family("glm45v"), runner=runner,
                              config=LoopConfig(max_steps=5, recheck_after_s=0.2))
    finally:
        root.destroy()
    assert res.status == "done" and res.model_calls == 6 and res.steps == 2
    steps = read_trajectory(tmp_path / "traj").steps
    kinds = ["re-asked" if s.get("screen_changed") else s["action"]["type"] for s in steps]
    assert kinds == ["re-asked", "re-asked", "press", "re-asked", "re-asked", "done"]
    assert steps[2]["acted_on_changed_screen"] is True and steps[5]["acted_on_changed_screen"] is True
    assert "screen changed while you were thinking" in steps[1]["feedback_given"]
