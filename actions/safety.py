"""Safety policy: caps, risky-action detection and the person who confirms.

Input control of a real desktop is only trustworthy when every path goes through the same checks,
so the executor (``actions.executor``) consults this module for every action; nothing here performs
input.

* **Caps**: a step cap and a wall-clock cap for the whole run.
* **Risky actions**: an action whose evidence — what the screen shows where it lands, its own
  text, the model's thought (``actions.gate``) — contains one of the risky words (pay, buy,
  purchase, order, delete, remove, send, submit, transfer by default; configurable) needs a yes from
  a person. Whole words by default ("Pay €12.00" counts, "Continue to payment" does not);
  ``risky_match="prefix"`` counts word starts ("Payment" too).
* **Confirmers**: ``TerminalConfirmer`` asks with a rich prompt when a terminal is attached and answers
  *no* when none is (CI, cron, a pipe); ``assume_yes`` (``--yes``) approves everything.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from actions import secrets
from actions.gate import Evidence, assess, risky_pattern
from actions.space import Action, Click, TypeText

DEFAULT_RISKY_WORDS: tuple[str, ...] = (
    "pay", "buy", "purchase", "order", "delete", "remove", "send", "submit", "transfer",
)


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    max_steps: int | None = 50
    max_seconds: float | None = 600.0
    risky_words: tuple[str, ...] = DEFAULT_RISKY_WORDS
    #: "word": whole words or phrases; "prefix": word starts (see ``actions.gate.risky_pattern``).
    risky_match: str = "word"
    #: Characters typed between two checks of the stop flag (kill hotkey, fail-safe, time cap).
    type_chunk: int = 8
    #: Seconds between typing chunks (0 = as fast as the backend goes).
    type_interval: float = 0.0

    def __post_init__(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds}")
        if self.type_chunk < 1:
            raise ValueError(f"type_chunk must be >= 1, got {self.type_chunk}")
        risky_pattern(self.risky_words, self.risky_match)  # a bad risky_match fails here, not mid-run

    def risky_pattern(self) -> re.Pattern[str] | None:
        return risky_pattern(self.risky_words, self.risky_match)


def risky_reason(action: Action, policy: SafetyPolicy) -> str | None:
    """Why ``action`` needs a person's yes judging only the text it carries (its target, the typed
    text), or None. The executor judges the screen too (``actions.gate``); this is that check without
    a probe. Secret values are never part of the reason."""
    ev = []
    if isinstance(action, Click) and action.target:
        ev.append(Evidence("the click's target description", action.target))
    elif isinstance(action, TypeText):
        ev.append(Evidence("the typed text", secrets.PLACEHOLDER.sub(" ", action.text)))
    return assess(action, ev, policy.risky_pattern())


Confirmer = Callable[[str, str], bool]
"""``confirmer(action_description, reason) -> approved``."""


def always_yes(description: str, reason: str) -> bool:
    return True


def always_no(description: str, reason: str) -> bool:
    return False


class TerminalConfirmer:
    """Asks the person at the terminal. Without one (stdin not a TTY) the answer is no."""

    def __init__(self, assume_yes: bool = False, stream=None) -> None:
        self.assume_yes = assume_yes
        self.stream = stream

    def __call__(self, description: str, reason: str) -> bool:
        if self.assume_yes:
            return True
        stdin = self.stream if self.stream is not None else sys.stdin
        if stdin is None or not stdin.isatty():
            return False
        from rich.markup import escape
        from rich.prompt import Confirm

        # the reason quotes screen and model text: data, never markup
        return Confirm.ask(
            f"[bold yellow]Risky action[/]: {escape(secrets.mask(description))}\n  ({escape(reason)}). Allow it?",
            default=False,
        )


def word_list(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Parse ``--risky-words "pay,delete"`` style input."""
    if text is None:
        return DEFAULT_RISKY_WORDS
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(w.strip().lower() for w in items if w.strip())
