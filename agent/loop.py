"""The agent loop: observe → generate → parse → safety → execute → settle → record, until done.

``run_episode`` takes its collaborators as arguments (android_world's ``run_episode`` shape): a
model, a model family (prompt + parser), and a ``StepRunner`` that owns the screen, the safe
executor and the trajectory. Nothing here knows which backend or which desktop it drives.

What peers get wrong, handled here:

* **Unparseable output** (small or quantized models) goes back to the model as feedback, a bounded
  number of times in a row, instead of crashing or guessing.
* **Invalid actions** (a point off the screen) are executor errors returned as data, also fed back.
* **Stagnation**: repeating the same action while the screen does not change is the most common
  failure of peer agents, and alternating between two or three actions that get nowhere its cousin
  (``agent.stagnation``: a blinking caret or a spinner is not a change). After ``stagnation_warn``
  such repeats the model is told; after ``stagnation_stop`` the run ends with a clear reason.
* **Half-loaded screens**: the screenshot is always a settled one (``StepRunner.observe``).
* **Acting on an old picture**: when the model took long and the screen really changed meanwhile, the
  answer is not carried out; the model is shown the new screen and asked again (``agent.recheck``).
* **What the model sees** (``LoopConfig.observe``): the screenshot, or the screenshot with a list of
  the screen's elements, or Set-of-Mark; ``agent.observe`` builds it and carries out an answer that
  names an element.
* **The time cap while the model thinks**: the executor's ``--max-seconds`` only bites when an action
  runs, so a slow answer could run far past it. Each model call gets the time left as its timeout;
  a call that runs out of it ends the run as a safety stop, like any other cap.

Every step keeps the model's whole answer and the server's separate reasoning (masked) in the
trajectory: a long thought is exactly what one needs to see when a run went wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from actions import secrets
from actions.errors import SafetyStop
from actions.space import Done, Fail
from agent import recheck
from agent.observe import act, build_view, described
from agent.stagnation import StagnationDetector
from agent.steps import StepRunner
from model.base import Completion, GenerationConfig, Model, ModelError
from model.family import HistoryEntry, ModelFamily, ParseError
from model.marks import DEFAULT_TOKENS


#: A model call that fails with less than this left before the time cap failed because of the cap.
_CAP_SLACK_S = 0.25


def _output(completion: Completion) -> dict[str, str | None]:
    """The model's whole answer and the server's separate reasoning, masked, for the trajectory."""
    return {"model_output": secrets.mask(completion.text),
            "reasoning": None if completion.reasoning is None else secrets.mask(completion.reasoning)}


@dataclass(frozen=True)
class LoopConfig:
    max_steps: int = 30
    max_parse_errors: int = 3  # in a row
    stagnation_warn: int = 2
    stagnation_stop: int = 4
    image_format: str = "png"
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    recheck_after_s: float | None = 1.0  # look at the screen again after a model call this long (None: never)
    max_rechecks: int = 2  # re-asks in a row because the screen changed (agent.recheck)
    observe: str = "screenshot"  # screenshot | screenshot+elements | som (agent.observe)
    element_tokens: int = DEFAULT_TOKENS  # cap of the element list, estimated tokens


@dataclass(frozen=True)
class StepEvent:
    """What the live display shows for one model call."""

    index: int
    thought: str | None
    action: str | None
    ok: bool
    error: str | None
    timings: dict[str, float]
    tokens: int | None
    feedback: str | None = None


@dataclass(frozen=True)
class EpisodeResult:
    status: str  # done | fail | stopped | stagnated | parse_errors | max_steps | model_error
    reason: str
    answer: str | None
    steps: int
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    elapsed_s: float

    @property
    def success(self) -> bool:
        return self.status == "done"

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"ok": self.success}


def run_episode(
    goal: str,
    *,
    model: Model,
    family: ModelFamily,
    runner: StepRunner,
    config: LoopConfig = LoopConfig(),
    on_step: Callable[[StepEvent], None] | None = None,
    on_thinking: Callable[[bool], None] | None = None,
) -> EpisodeResult:
    t_start = time.monotonic()
    history: list[HistoryEntry] = []
    feedback: str | None = None
    parse_errors = rechecks = 0
    kept: str | None = None
    calls = steps = 0
    tok_in = tok_out = 0
    stagnation = StagnationDetector(config.stagnation_warn, config.stagnation_stop)

    def result(status: str, reason: str, answer: str | None = None) -> EpisodeResult:
        return EpisodeResult(status, secrets.mask(reason), answer, steps, calls, tok_in, tok_out,
                             time.monotonic() - t_start)

    while True:
        if steps >= config.max_steps:
            return result("max_steps", f"no done/fail after {config.max_steps} steps")
        obs = runner.observe()
        if obs is None:
            raise ValueError("run_episode needs a StepRunner with a screen")
        t = time.monotonic()
        view = build_view(runner, obs, mode=config.observe, image_format=config.image_format,
                          max_tokens=config.element_tokens)
        shot = view.image
        messages = family.build_messages(goal, shot, history, feedback=feedback, elements=view.elements)
        prep_s = time.monotonic() - t
        try:  # a stop asked for (kill hotkey) or a cap passed while settling: no further model call
            runner.executor.check_running()
        except SafetyStop as e:
            return result("stopped", str(e) or e.reason)
        gen = config.generation
        left = runner.executor.time_left()
        if left is not None:
            gen = replace(gen, timeout=left if gen.timeout is None else min(gen.timeout, left))
        if on_thinking:
            on_thinking(True)
        t_model = time.monotonic()
        try:
            completion: Completion = model.generate(messages, gen)
        except ModelError as e:
            now_left = runner.executor.time_left()
            if now_left is not None and now_left < _CAP_SLACK_S:
                return result("stopped", f"time cap of {runner.executor.policy.max_seconds:g} s reached while "
                                         "waiting for the model (--max-seconds)")
            return result("model_error", str(e))
        finally:
            if on_thinking:
                on_thinking(False)
        calls += 1
        tok_in += completion.usage.prompt_tokens or 0
        tok_out += completion.usage.completion_tokens or 0
        model_info = {"model_s": round(completion.latency_s, 6), "prompt_s": round(prep_s, 6),
                      "prompt_tokens": completion.usage.prompt_tokens,
                      "completion_tokens": completion.usage.completion_tokens}
        try:
            parsed = family.parse(completion, obs.map, elements=view.elements)
        except ParseError as e:
            parse_errors += 1
            feedback = f"Your last answer could not be used: {e}"
            if runner.writer is not None:
                runner.writer.append({"parse_error": secrets.mask(str(e)), "ok": False,
                                      **_output(completion), **model_info})
            if on_step:
                on_step(StepEvent(calls, None, None, False, str(e), {"model_s": completion.latency_s},
                                  completion.usage.total_tokens, feedback))
            if parse_errors >= config.max_parse_errors:
                return result("parse_errors", f"{parse_errors} unusable model answers in a row; last: {e}")
            continue
        parse_errors = 0
        extra = {**_output(completion), "memory": parsed.memory,
                 "action_text": parsed.action_text, "model": model_info, "feedback_given": feedback}
        waited = time.monotonic() - t_model
        if rechecks < config.max_rechecks and recheck.screen_changed(runner, obs, waited, config.recheck_after_s):
            kept = feedback if rechecks == 0 else kept  # feedback for the step before still holds
            rechecks += 1
            feedback = " ".join(x for x in (kept, recheck.feedback(parsed.action_text, waited)) if x)
            runner.note({**recheck.record(parsed.action.to_json(), waited), "thought": parsed.thought, **extra}, obs)
            if on_step:
                on_step(StepEvent(calls, parsed.thought, described(parsed), False, recheck.NOT_CARRIED_OUT,
                                  {"model_s": completion.latency_s}, completion.usage.total_tokens, feedback))
            runner.observe(fresh=True)
            continue
        if rechecks >= config.max_rechecks > 0 and recheck.should_recheck(waited, config.recheck_after_s):
            extra["acted_on_changed_screen"] = runner.screen_moved(obs)
        rechecks = 0
        try:
            outcome = act(runner, parsed, thought=parsed.thought, extra={**extra, **view.record()})
        except SafetyStop as e:
            return result("stopped", str(e) or e.reason)
        steps += 1
        timings = {"prompt_s": prep_s, "model_s": completion.latency_s, **outcome.timings}
        feedback = None
        if not outcome.result.ok:
            feedback = f"Your action {parsed.action_text} failed: {outcome.result.error}"
        after = None if outcome.observation is None else outcome.observation.image  # the model's copies:
        stuck = stagnation.update(parsed.action.to_json(), parsed.action_text, obs.image, after)  # fewer pixels
        if stuck.level == "stop":
            if on_step:
                on_step(StepEvent(calls, parsed.thought, described(parsed), outcome.result.ok,
                                  outcome.result.error, timings, completion.usage.total_tokens))
            return result("stagnated", stuck.reason())
        if stuck.level == "warn":
            feedback = ((feedback + " ") if feedback else "") + stuck.feedback()
        history.append(HistoryEntry(parsed.thought, parsed.action_text, shot, feedback, memory=parsed.memory))
        if on_step:
            on_step(StepEvent(calls, parsed.thought, described(parsed), outcome.result.ok,
                              outcome.result.error, timings, completion.usage.total_tokens, feedback))
        if isinstance(parsed.action, Done):
            return result("done", "the model said the goal is done", parsed.action.answer)
        if isinstance(parsed.action, Fail):
            return result("fail", parsed.action.reason or "the model said the goal cannot be done")
