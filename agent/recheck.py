"""Look again before acting on a slow answer: a click decided on an old picture lands on whatever is
there now.

A model that thinks for seconds answers about the screen as it was when it was asked; meanwhile a page
may have finished loading, a dialog opened, a list re-sorted. When the answer took at least
``LoopConfig.recheck_after_s`` (1 s by default) and a quick capture now differs from the observation
the model saw by a *real* change (``agent.screen.real_change``: a blinking caret or a spinner is
motion, not a change), the answer is not carried out: the loop records it, takes a fresh settled
observation and asks again, telling the model why (``feedback``).

Bounded: at most ``LoopConfig.max_rechecks`` (2) re-asks in a row. A screen that keeps changing
meaningfully while the model thinks (a live feed) would otherwise never get an action; the answer after
the last re-ask is carried out, on a picture at most one model call old, and its step says so
(``acted_on_changed_screen``).
"""

from __future__ import annotations

from agent.steps import Observation, StepRunner

#: What the person sees (the live display, the report) for an answer that was not carried out.
NOT_CARRIED_OUT = "not carried out: the screen changed while the model was thinking; asking again"


def should_recheck(waited_s: float, after_s: float | None) -> bool:
    """Was the model slow enough that the screen must be looked at again (``after_s`` None: never)?"""
    return after_s is not None and waited_s >= after_s


def screen_changed(runner: StepRunner, obs: Observation, waited_s: float, after_s: float | None) -> bool:
    """True when the model took at least ``after_s`` and the screen really changed since ``obs``."""
    return should_recheck(waited_s, after_s) and runner.screen_moved(obs)


def feedback(action_text: str, waited_s: float) -> str:
    """What the model is told when its answer was not carried out."""
    return (f"The screen changed while you were thinking ({waited_s:.1f} s), so your answer {action_text} was "
            "not carried out. Look at the new screenshot and decide again.")


def record(action_json: dict, waited_s: float) -> dict:
    """The trajectory record of an answer that was not carried out (the loop adds the model's side)."""
    return {"screen_changed": NOT_CARRIED_OUT, "not_carried_out": action_json, "waited_s": round(waited_s, 3)}
