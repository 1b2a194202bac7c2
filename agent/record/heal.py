"""Healing: a step replay cannot resolve is handed to the agent loop with a sub-goal from the recording.

When the recorded element is not on screen, no crop or text anchor finds it, and no repair applies
(a button renamed, a field moved behind a tab, a dialog in the way), a model may still get there: like
workflow-use's and UiPath's healing agents, the replay asks the agent loop (``agent.loop.run_episode``)
to reach a narrow goal built from what the recording knows — "Click the button named 'Select' in the
table row '14:00 | 15:22 …' and answer DONE" — with a few steps at most, through the same step runner
and safe executor. Every action it takes is written to the replay's trajectory with ``healed: true``
and the recorded step it stands for (``replay_of``), so ``agent report``'s "healed" filter shows
exactly what the model did. For typing, the model only puts the focus in the field; the replay then
types the recorded text itself (a secret never reaches the model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.steps import StepRunner

#: Model steps a sub-goal may take.
MAX_STEPS = 6


def subgoal(step: dict, expected_name: str | None = None, expected_row: str | None = None) -> str:
    """The sub-goal for one recorded step, in words a model reads (data quoted, never instructions)."""
    a = step.get("action") or {}
    kind = a.get("type")
    loc = (step.get("anchor") or {}).get("element") or step.get("focus") or {}
    role = loc.get("role") or "element"
    name = expected_name if expected_name is not None else (loc.get("name") or (step.get("anchor") or {}).get("text"))
    what = f"the {role} named {name!r}" if name else f"the {role}"
    row = expected_row or loc.get("row")
    if row:
        what += f" in the table row {row!r}"
    if loc.get("group") and role in ("radio", "checkbox", "listitem", "option"):
        what += f" of the group {loc['group']!r}"
    if loc.get("month"):
        what += f" (a day of the calendar: bring the calendar to {loc['month']} first)"
    if kind == "type":
        return (f"Click into {what} so that it has the keyboard focus. Do not type anything. "
                "Then answer DONE.")
    clicks = {2: "Double-click", 3: "Triple-click"}.get(a.get("clicks", 1), "Click")
    if kind == "scroll":
        return f"Move the pointer over {what} (scroll it into view if needed), then answer DONE."
    return f"{clicks} {what}, once. Then answer DONE."


@dataclass
class Healer:
    """Runs sub-goals through ``run_episode`` with ``model`` and ``family`` (``model.family``)."""

    model: object
    family: object
    max_steps: int = MAX_STEPS

    def __call__(self, runner: StepRunner, index: int, goal: str,
                 on_step: Callable[[str], None] | None = None):  # noqa: ANN204 - EpisodeResult
        from agent.loop import LoopConfig, run_episode

        marked = _Marked(runner, {"healed": True, "replay_of": index, "heal_goal": goal})

        def show(ev) -> None:  # noqa: ANN001 - agent.loop.StepEvent
            if on_step is not None and ev.action:
                on_step(ev.action)

        return run_episode(goal, model=self.model, family=self.family, runner=marked,
                           config=LoopConfig(max_steps=self.max_steps), on_step=show)


class _Marked:
    """The step runner as ``run_episode`` sees it, with every action it records marked healed."""

    def __init__(self, runner: StepRunner, mark: dict) -> None:
        self._runner, self._mark = runner, mark

    def act(self, action, *, thought=None, extra=None):  # noqa: ANN001, ANN201
        return self._runner.act(action, thought=thought, extra={**(extra or {}), **self._mark})

    def __getattr__(self, name: str):  # noqa: ANN204 - observe, executor, writer ...
        return getattr(self._runner, name)
