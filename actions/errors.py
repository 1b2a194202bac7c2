"""Typed errors of the action layer.

Two kinds exist on purpose. ``ActionError`` subclasses describe a bad *action* (a model can be told
and can try again: errors are data there). ``SafetyStop`` subclasses mean a person or a cap ended the
run; the loop must not retry them.
"""

from __future__ import annotations


class ActionError(Exception):
    """An action is malformed or cannot be carried out as asked."""


class ActionValidationError(ActionError, ValueError):
    """An action's fields are invalid (unknown key name, negative count, missing field ...)."""


class OutOfBoundsError(ActionError):
    """A coordinate lies outside every monitor of the screen. Never clamped silently."""

    def __init__(self, x: float, y: float, bounds: str):
        self.x, self.y, self.bounds = x, y, bounds
        super().__init__(f"point ({x:g}, {y:g}) is outside the screen {bounds}")


class SafetyStop(Exception):
    """The run must stop: a person, a cap or the fail-safe said so."""

    reason = "safety stop"


class KillSwitchPressed(SafetyStop):
    reason = "kill hotkey pressed"


class FailSafeTriggered(SafetyStop):
    reason = "mouse moved to the fail-safe corner"


class StepCapReached(SafetyStop):
    reason = "step cap reached"


class TimeCapReached(SafetyStop):
    reason = "time cap reached"


class ConfirmationDenied(SafetyStop):
    reason = "risky action not approved"


class MissingSecret(ActionError):
    """A ``{{secret:NAME}}`` placeholder names an environment variable that is not set."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"secret {name!r} is not set: export {name}=... before the run")
