"""Stagnation: the model keeps doing the same thing and nothing happens.

Repeating an action that does nothing is the most common failure of peer agents; so is its cousin,
alternating between two or three actions that undo each other or do nothing (click A, click B,
click A, ...). Both are caught here, and only when the screen made no *real* change
(``agent.screen.real_change``: a blinking caret or a spinner is motion, not progress).

The rule, for a period p of 1, 2 or 3 actions: a step *repeats the cycle* when its action equals the
action p steps earlier and the screen after it is, but for motion, the screen before the last p
actions began. For p = 1 that is "the same action again and the screen did not change"; for p = 2
it is A, B, A, B with the screen coming back to where it was after every A, B pair — even when each
single action changes something (the hover highlight moving from one button to the other).

Consecutive repeating steps are counted per period. The model is warned (``feedback``) once the
count reaches ``max(warn, p)`` (one full repetition of the cycle) and the run stops at
``max(stop, 2p)``. With the defaults (warn 2, stop 4): the same action 3 times warns, 5 times stops;
A, B, A, B warns and A, B x3 stops; A, B, C x2 warns and A, B, C x3 stops.

The agent loop passes the screenshots as the model saw them (downscaled): the motion rule is relative
to the image's size, and comparing 1280x720 instead of 1920x1080 takes less than half the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from agent.screen import real_change


@dataclass(frozen=True)
class Stagnation:
    """Where a run stands after one step: ``level`` is ok, warn or stop."""

    level: str
    period: int = 0
    repeats: int = 0  # consecutive steps that repeated the cycle without a real change
    actions: tuple[str, ...] = ()  # the cycle, as the model wrote its actions

    @property
    def times(self) -> int:
        """How many times the cycle was performed (for p = 1: how many times the action was)."""
        return (self.repeats + self.period) // max(1, self.period)

    def _cycle(self) -> str:
        return " → ".join(self.actions)

    def feedback(self) -> str:
        if self.period == 1:
            return (f"You repeated {self.actions[0]} {self.times} times and the screen did not change. "
                    "Do something different: check the target, scroll, or use the keyboard.")
        return (f"Your last {self.repeats + self.period} actions repeat the cycle {self._cycle()} and the screen "
                "did not change over it: it keeps coming back to the same state. Do something different: "
                "check the targets, scroll, or use the keyboard.")

    def reason(self) -> str:
        if self.period == 1:
            return f"the same action ({self.actions[0]}) was repeated {self.times} times and the screen did not change"
        return f"the cycle {self._cycle()} was repeated {self.times} times and the screen did not change"


@dataclass(frozen=True)
class _Step:
    action: dict
    text: str
    before: Image.Image
    after: Image.Image


class StagnationDetector:
    """Feed it every executed step; it says when the run stagnates (see the module docstring)."""

    def __init__(self, warn: int = 2, stop: int = 4, max_period: int = 3,
                 changed: Callable[[Image.Image, Image.Image], bool] = real_change) -> None:
        self.warn, self.stop, self.max_period = warn, stop, max_period
        self.changed = changed
        self.steps: list[_Step] = []  # the last max_period + 1 steps
        self.streak = {p: 0 for p in range(1, max_period + 1)}

    def _repeats_cycle(self, p: int) -> bool:
        s = self.steps
        if len(s) <= p or s[-1].action != s[-1 - p].action:
            return False
        if p > 1 and all(x.action == s[-1].action for x in s[-p:]):
            return False  # the same action p times is period 1, not a longer cycle
        return not self.changed(s[-p].before, s[-1].after)

    def update(self, action: dict, text: str, before: Image.Image | None, after: Image.Image | None) -> Stagnation:
        """Record one step: its action (``to_json()``), the action as written, the screen it was decided
        on and the screen after it (None when unknown: a blind run; that forgets the history)."""
        if before is None or after is None:
            self.steps.clear()
            self.streak = dict.fromkeys(self.streak, 0)
            return Stagnation("ok")
        # a click described differently ("OK button", "the OK button") is still the same click
        what = {k: v for k, v in action.items() if k != "target"}
        self.steps.append(_Step(what, text, before, after))
        del self.steps[:-(self.max_period + 1)]
        found = Stagnation("ok")
        rank = {"ok": 0, "warn": 1, "stop": 2}
        for p in self.streak:
            self.streak[p] = self.streak[p] + 1 if self._repeats_cycle(p) else 0
            n = self.streak[p]
            level = "stop" if n >= max(self.stop, 2 * p) else "warn" if n >= max(self.warn, p) else "ok"
            if rank[level] > rank[found.level]:  # the shortest period wins a tie
                cycle = tuple(x.text for x in self.steps[-p:])
                found = Stagnation(level, p, n, cycle)
        return found
