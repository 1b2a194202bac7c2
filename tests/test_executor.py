"""The executor's safety layer on the dry-run backend (no display needed)."""

import threading
import time

import pytest

from actions.backends import DryRunBackend
from actions.coords import Rect, ScreenLayout
from actions.errors import (
    ConfirmationDenied, KillSwitchPressed, MissingSecret, StepCapReached, TimeCapReached,
)
from actions.executor import Executor
from actions.killswitch import StopFlag
from actions.safety import SafetyPolicy, TerminalConfirmer, always_no, always_yes, risky_reason, word_list
from actions.space import Click, Done, Drag, Hotkey, KeyPress, MouseDown, MouseUp, MoveTo, Scroll, TypeText, Wait


def make(policy=None, confirmer=always_no, **kw):
    return Executor(DryRunBackend(), policy or SafetyPolicy(), confirmer=confirmer, **kw)


def test_primitives_reach_the_backend():
    ex = make()
    for a in [Click(10, 20, clicks=2), Drag(1, 1, 100, 50, duration=0), Scroll(dy=-3, x=5, y=5),
              KeyPress("tab", presses=2), Hotkey(("ctrl", "shift", "t")), TypeText("abc")]:
        assert ex.execute(a).ok
    calls = ex.backend.calls
    assert ("click", "left", 2) in calls
    assert calls[calls.index(("button_down", "left")) - 1] == ("move", 1, 1)
    assert ("move", 100, 50) in calls and ("button_up", "left") in calls
    assert ("scroll", 0, -3) in calls
    hk = [c for c in calls if c[0] in ("key_down", "key_up") and c[1] in ("ctrl", "shift", "t")]
    assert hk == [("key_down", "ctrl"), ("key_down", "shift"), ("key_down", "t"),
                  ("key_up", "t"), ("key_up", "shift"), ("key_up", "ctrl")]


def test_out_of_bounds_is_rejected_not_clamped():
    ex = make()
    for a in [Click(1280, 10), Click(-1, 10), MoveTo(10, 800), Drag(10, 10, 2000, 10)]:
        r = ex.execute(a)
        assert not r.ok and "outside the screen" in r.error
    assert ex.backend.calls == []


def test_monitor_layout_gap_is_out_of_bounds():
    lay = ScreenLayout((Rect(0, 0, 1920, 1080), Rect(1920, 0, 1280, 800)))
    ex = Executor(DryRunBackend(lay), confirmer=always_no)
    assert ex.execute(Click(2500, 700)).ok
    assert not ex.execute(Click(2500, 900)).ok


@pytest.mark.parametrize("action", [
    Click(10, 10, target="Pay now"), Click(10, 10, target="Delete all"), Click(10, 10, target="SUBMIT"),
    Click(10, 10, target="Place order"), TypeText("please transfer the money"),
])
def test_risky_actions_need_a_yes(action):
    ex = make()
    with pytest.raises(ConfirmationDenied):
        ex.execute(action)
    assert ex.backend.calls == []
    r = make(confirmer=always_yes).execute(action)
    assert r.ok and r.approved_risky


def test_not_risky():
    p = SafetyPolicy()
    assert risky_reason(Click(1, 1, target="Border colour"), p) is None
    assert risky_reason(Click(1, 1, target="Continue to payment"), p) is None  # whole words by default
    assert risky_reason(Click(1, 1, target="Continue to payment"), SafetyPolicy(risky_match="prefix")) is not None
    assert risky_reason(Click(1, 1, target="Pay €12.00"), p) is not None
    assert risky_reason(Click(1, 1, target="delete   all"), SafetyPolicy(risky_words=("delete all",))) is not None
    assert risky_reason(Click(1, 1), p) is None
    assert risky_reason(TypeText("{{secret:ORDER}}"), p) is None  # placeholder names are not text
    assert risky_reason(Click(1, 1, target="Zap"), SafetyPolicy(risky_words=word_list("zap"))) is not None
    assert risky_reason(Click(1, 1, target="Pay"), SafetyPolicy(risky_words=())) is None


def test_no_terminal_means_no():
    class NotATty:
        def isatty(self):
            return False

    assert TerminalConfirmer(stream=NotATty())("click", "why") is False
    assert TerminalConfirmer(assume_yes=True, stream=NotATty())("click", "why") is True


def test_step_cap():
    ex = make(SafetyPolicy(max_steps=3))
    for _ in range(3):
        ex.execute(MoveTo(1, 1))
    with pytest.raises(StepCapReached):
        ex.execute(MoveTo(1, 1))
    with pytest.raises(StepCapReached):  # stays stopped
        ex.execute(Done())


def test_time_cap_interrupts_a_wait():
    ex = make(SafetyPolicy(max_seconds=0.3))
    t = time.monotonic()
    with pytest.raises(TimeCapReached):
        ex.execute(Wait(5))
    assert time.monotonic() - t < 1.0


def test_stop_flag_interrupts_typing_between_chunks():
    class SlowBackend(DryRunBackend):
        def write(self, text):
            time.sleep(0.002)
            super().write(text)

    stop = StopFlag()
    ex = Executor(SlowBackend(), SafetyPolicy(type_chunk=5), confirmer=always_no, stop=stop)
    threading.Timer(0.05, stop.set, kwargs={"reason": "test", "exc": KillSwitchPressed}).start()
    with pytest.raises(KillSwitchPressed):
        ex.execute(TypeText("x" * 2000))
    typed = "".join(c[1] for c in ex.backend.calls if c[0] == "write")
    assert 0 < len(typed) < 2000
    assert all(len(c[1]) <= 5 for c in ex.backend.calls if c[0] == "write")


def test_interrupted_hotkey_releases_held_keys():
    stop = StopFlag()

    class StopAfterFirstKey(DryRunBackend):
        def key_down(self, key):
            super().key_down(key)
            stop.set("test", KillSwitchPressed)

    ex = Executor(StopAfterFirstKey(), confirmer=always_no, stop=stop)
    with pytest.raises(KillSwitchPressed):
        ex.execute(Hotkey(("ctrl", "alt", "t")))
    assert ex.backend.calls == [("key_down", "ctrl"), ("key_up", "ctrl")]


def test_secret_is_resolved_only_at_typing(monkeypatch):
    canary = "canary-SEKRIT-991"
    monkeypatch.setenv("DESK_TEST_PW", canary)

    ex = Executor(DryRunBackend(resolve_secrets=True), confirmer=always_no)  # sees what pyautogui would
    a = TypeText("pw={{secret:DESK_TEST_PW}}!")
    r = ex.execute(a)
    assert r.ok
    assert "".join(c[1] for c in ex.backend.calls) == f"pw={canary}!"
    assert canary not in repr(r) and canary not in str(r.to_json()) and canary not in a.describe()
    dry = make()
    dry.execute(a)
    assert canary not in str(dry.backend.calls)  # dry run never reads the secret


def test_missing_secret_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DESK_NOT_SET", raising=False)

    r = Executor(DryRunBackend(resolve_secrets=True), confirmer=always_no).execute(TypeText("{{secret:DESK_NOT_SET}}"))
    assert not r.ok and "DESK_NOT_SET" in r.error and "export" in r.error
    assert isinstance(MissingSecret("X"), Exception)


def test_step_runner_measures_hidpi_scale():
    """A 2x capture of a 1280x800 logical screen maps image pixels back to logical pixels."""
    from PIL import Image

    from agent.screen import Frame
    from agent.steps import StepRunner

    class RetinaScreen:
        def size(self):
            return (2560, 1600)

        def capture(self, monitor=0, region=None):
            return Frame(Image.new("RGB", (2560, 1600)), 0, 0, time.monotonic())

    runner = StepRunner(make(), RetinaScreen(), model_size=(1280, 800))
    assert runner.scale == 2.0
    obs = runner.observe()
    assert (obs.map.width, obs.map.height) == (1280, 800)
    assert obs.map.area.width == 1280 and obs.map.normalized_to_screen(500, 500) == (640, 400)
    assert StepRunner(make(), RetinaScreen(), scale=1.0).scale == 1.0


class _Screen:
    """A probe over a fixed picture of the screen: text per point, and the focused element's text."""

    def __init__(self, under=None, focus=None, fail=False):
        self.under_text, self.focus_text, self.fail = under or {}, focus, fail
        self.asked = []

    def under(self, x, y):
        from actions.gate import Evidence, ProbeError

        self.asked.append(("under", x, y))
        if self.fail:
            raise ProbeError("no screen")
        t = self.under_text.get((x, y))
        return [Evidence("the screen under the pointer", t)] if t else []

    def focus(self, hint):
        from actions.gate import Evidence

        self.asked.append(("focus", hint))
        return [Evidence("the focused element", self.focus_text)] if self.focus_text else []


@pytest.mark.parametrize("action", [Click(10, 10), Click(10, 10, target="green button"), MouseDown(10, 10),
                                    MouseUp(10, 10), Drag(300, 300, 10, 10)])
def test_the_gate_judges_the_screen_under_the_point_not_the_label(action):
    probe = _Screen(under={(10, 10): "Pay €12.00"})
    ex = Executor(DryRunBackend(), confirmer=always_no, probe=probe)
    with pytest.raises(ConfirmationDenied, match="under the pointer reads 'Pay €12.00'"):
        ex.execute(action)
    assert ex.backend.calls == []
    r = Executor(DryRunBackend(), confirmer=always_yes, probe=probe).execute(action)
    assert r.ok and "pay" in r.approved_risky and ["the screen under the pointer", "Pay €12.00"] in r.to_json()["evidence"]


def test_the_gate_reads_the_focused_element_for_enter_space_and_typing_and_the_thought():
    probe = _Screen(focus="Delete account")
    for a in (KeyPress("enter"), KeyPress("space"), Hotkey(("ctrl", "enter")), TypeText("yes")):
        with pytest.raises(ConfirmationDenied, match="focused element"):
            Executor(DryRunBackend(), confirmer=always_no, probe=probe).execute(a)
    assert Executor(DryRunBackend(), confirmer=always_no, probe=probe).execute(KeyPress("tab")).ok
    with pytest.raises(ConfirmationDenied, match="thought"):
        Executor(DryRunBackend(), confirmer=always_no, probe=_Screen()).execute(
            Click(5, 5), thought="Now I click Submit to send the form")
    assert Executor(DryRunBackend(), confirmer=always_no, probe=_Screen()).execute(Click(5, 5), thought="open it").ok


def test_a_click_without_coordinates_is_judged_where_the_pointer_is():
    probe = _Screen(under={(40, 50): "Buy now"})
    b = DryRunBackend()
    b.move(40, 50)
    with pytest.raises(ConfirmationDenied):
        Executor(b, confirmer=always_no, probe=probe).execute(Click())


def test_an_unreadable_screen_fails_closed():
    ex = Executor(DryRunBackend(), confirmer=always_no, probe=_Screen(fail=True))
    with pytest.raises(ConfirmationDenied, match="could not be read"):
        ex.execute(Click(10, 10))
    assert Executor(DryRunBackend(), confirmer=always_no, probe=_Screen(fail=True)).execute(Scroll(dy=-3)).ok
