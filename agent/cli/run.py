"""``agent run`` (reach a goal with GLM-4.5V) and ``agent serve`` (serve GLM-4.5V with vLLM or SGLang).

A CLI module: it parses options, builds the collaborators (model, family, screen, safe executor,
trajectory) and hands them to ``agent.loop.run_episode`` / ``model.serving``.

Everything the model wrote (thoughts, actions, answers, errors quoting the server) is untrusted
text: it reaches the console only through ``agent.untrusted.shown``, so a thought holding ``[/b]`` is
printed as written instead of crashing the run after it acted. Whatever happens, the trajectory is
sealed.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from actions import secrets
from actions.killswitch import DEFAULT_HOTKEY
from agent.cli.common import (ApiKeyOpt, KillOpt, MaxSecondsOpt, MaxStepsOpt, ModelNameOpt, ModelUrlOpt, NoKillOpt,
                       RiskyOpt, YesOpt, build_executor, fail, start_virtual, app, console, err, element_modeler)
from agent.untrusted import shown


@app.command()
def run(
    goal: Annotated[str, typer.Argument(help='What to do, e.g. "book a ticket from Oslo to Bergen".')],
    model_url: ModelUrlOpt = None,
    model: ModelNameOpt = None,
    api_key: ApiKeyOpt = None,
    model_path: Annotated[Optional[str], typer.Option(help="Local checkpoint for the transformers backend, env AGENT_MODEL_PATH.")] = None,
    model_family: Annotated[Optional[str], typer.Option(
        help="Prompt and output format: glm45v (default), glm41v, uitars (Qwen2.5-VL / UI-TARS-1.5) or generic "
             "(any OpenAI-compatible VLM: gemma-3, step-3, kimi-vl), env AGENT_MODEL_FAMILY.")] = None,
    observe: Annotated[Optional[str], typer.Option(
        help="What the model sees each step: screenshot (default), screenshot+elements (plus a list of the "
             "screen's elements by id) or som (numbered marks on the screenshot and the list), env AGENT_OBSERVE.")] = None,
    element_tokens: Annotated[Optional[int], typer.Option(
        help="Cap of the element list in estimated tokens (default 2000; screenshot+elements and som).")] = None,
    thinking: Annotated[Optional[bool], typer.Option("--thinking/--no-thinking", help="GLM-4.5V thinking mode (default on).")] = None,
    model_timeout: Annotated[Optional[float], typer.Option(
        help="Seconds one model request may take (default 120), env AGENT_MODEL_TIMEOUT; --max-seconds still wins.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(
        help="Most tokens the model may generate per step (default 8192, as the official GLM-V example).")] = None,
    max_size: Annotated[str, typer.Option(help="Downscale screenshots for the model to fit WIDTHxHEIGHT.")] = "1280x800",
    image_format: Annotated[str, typer.Option(help="png or jpeg screenshots for the model.")] = "png",
    recheck_after: Annotated[float, typer.Option(
        help="When the model took this many seconds, look at the screen again before acting and ask again "
             "if it changed meanwhile (negative: never).")] = 1.0,
    out: Annotated[Optional[Path], typer.Option(help="Trajectory folder (default runs/run-TIMESTAMP).")] = None,
    virtual: Annotated[bool, typer.Option("--virtual", help="Run on a fresh virtual desktop.")] = False,
    yes: YesOpt = False,
    max_steps: MaxStepsOpt = 30,
    max_seconds: MaxSecondsOpt = 900.0,
    risky_words: RiskyOpt = None,
    kill_hotkey: KillOpt = DEFAULT_HOTKEY,
    no_kill_hotkey: NoKillOpt = False,
) -> None:
    """Reach GOAL on this desktop with GLM-4.5V: observe, think, act, settle, record, until done."""
    import time as _time

    from agent.desktop import parse_size
    from agent.loop import LoopConfig, StepEvent, run_episode
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryError, TrajectoryWriter
    from model.base import GenerationConfig, ModelError
    from model.config import NO_MODEL_HELP, build_model, load_settings
    from model.families import get_family

    try:
        settings = load_settings({"url": model_url, "name": model, "api_key": api_key, "path": model_path,
                                  "family": model_family, "thinking": thinking, "timeout": model_timeout,
                                  "max_tokens": max_tokens, "observe": observe, "element_tokens": element_tokens})
    except ModelError as e:
        raise fail(str(e))
    if settings is None:
        err.print(NO_MODEL_HELP)
        raise typer.Exit(2)
    try:
        family = get_family(settings.family)
        limit = parse_size(max_size)
        llm = build_model(settings)
    except (ValueError, ModelError) as e:
        raise fail(str(e))
    folder = out or Path("runs") / _time.strftime("run-%Y%m%d-%H%M%S")
    code = 1
    with ExitStack() as stack:
        if virtual:
            start_virtual(stack, "1280x800")
        # an answer naming an element may be 2-3 inputs (click + type, click + option): --max-steps counts answers
        inputs = max_steps * (1 if settings.observe == "screenshot" else 3)
        ex = build_executor(dry_run=False, yes=yes, max_steps=inputs, max_seconds=max_seconds,
                       risky_words=risky_words, kill_hotkey=kill_hotkey, no_kill_hotkey=no_kill_hotkey, stack=stack)
        try:
            screen = stack.enter_context(Screen())
            w, h = screen.size()
            writer = TrajectoryWriter(folder, kind="run", meta={
                "goal": goal, "model": settings.describe(), "screen": [w, h], "max_size": list(limit),
                "family": family.name, "observe": settings.observe})
        except TrajectoryError as e:
            raise fail(str(e))
        except Exception as e:  # no display
            raise fail(f"cannot capture the screen: {e}. Try --virtual or `agent doctor`.")
        runner = StepRunner(ex, screen, writer, model_size=limit, image_format=image_format,
                            elements=element_modeler())
        console.print(f"[bold]goal:[/] {shown(goal)}\n[dim]model: {shown(settings.describe())} · screen {w}x{h} "
                      f"→ {limit[0]}x{limit[1]} · trajectory {shown(folder)}[/]")
        status = stack.enter_context(console.status("observing…"))

        def thinking_cb(on: bool) -> None:
            status.update("model thinking…" if on else "acting…")

        def show(ev: StepEvent) -> None:
            t = ev.timings
            phases = " · ".join(f"{k[:-2]} {v * 1000:.0f} ms" for k, v in t.items() if v)
            mark = "[green]✓[/]" if ev.ok else f"[red]✗ {shown(ev.error or '')}[/]"
            console.print(f"[bold]{ev.index:>3}[/] {mark} [cyan]{shown(ev.action or '(no action)')}[/] "
                          f"[dim]{phases}{f' · {ev.tokens} tok' if ev.tokens else ''}[/]")
            if ev.thought:
                console.print(f"    [italic]{shown(ev.thought.strip(), 300)}[/]")
            if ev.feedback:
                console.print(f"    [yellow]→ model told: {shown(ev.feedback, 200)}[/]")

        cfg = LoopConfig(max_steps=max_steps, image_format=image_format, observe=settings.observe,
                         element_tokens=settings.element_tokens,
                         recheck_after_s=None if recheck_after < 0 else recheck_after,
                         generation=GenerationConfig(max_tokens=settings.max_tokens, enable_thinking=settings.thinking))
        try:
            res = run_episode(goal, model=llm, family=family, runner=runner, config=cfg, on_step=show,
                              on_thinking=thinking_cb)
        except BaseException as e:  # a bug or Ctrl-C: the trajectory is still sealed, saying so
            writer.close({"status": "crashed", "ok": False, "reason": secrets.mask(f"{type(e).__name__}: {e}")})
            raise
        writer.close(res.to_json())
        colour = "green" if res.success else "red"
        console.print(f"[bold {colour}]{res.status}[/]: {shown(res.reason)}"
                      + (f"\n[bold]answer:[/] {shown(res.answer)}" if res.answer else ""))
        console.print(f"[dim]{res.steps} steps · {res.model_calls} model calls · {res.prompt_tokens + res.completion_tokens} "
                      f"tokens · {res.elapsed_s:.1f} s · trajectory {shown(folder)}[/]")
        code = {"done": 0, "stopped": 3, "model_error": 4}.get(res.status, 1)
    raise typer.Exit(code)


@app.command()
def serve(
    engine: Annotated[str, typer.Option(help="vllm or sglang.")] = "vllm",
    weights: Annotated[Optional[str], typer.Option("--weights", help="Hub name or local path (default zai-org/GLM-4.5V[-FP8]).")] = None,
    fp8: Annotated[bool, typer.Option("--fp8", help="Serve the FP8 checkpoint (about half the memory).")] = False,
    tp: Annotated[Optional[int], typer.Option(help="Tensor-parallel size (default: from the GPUs present).")] = None,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for other machines).")] = "127.0.0.1",
    max_model_len: Annotated[int, typer.Option(help="Context length (GLM-4.5V supports 64K).")] = 65536,
    launch: Annotated[bool, typer.Option("--launch", help="Start the engine and wait until it answers.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for --launch to be ready.")] = 1800.0,
) -> None:
    """Print (or --launch) the vLLM / SGLang command that serves GLM-4.5V for the GPUs present."""
    from model.serving import LaunchError, launch as start, plan

    try:
        p = plan(engine=engine, model=weights, fp8=fp8, tp=tp, port=port, host=host, max_model_len=max_model_len)
    except ValueError as e:
        raise fail(str(e))
    for n in p.notes:
        console.print(f"[dim]# {n}[/]")
    console.print(p.command())
    console.print(f"[dim]# then: export AGENT_MODEL_URL={p.base_url} AGENT_MODEL={p.served_name}[/]")
    if not launch:
        return
    try:
        proc = start(p.argv, p.base_url, timeout=timeout, log=console.print)
    except LaunchError as e:
        raise fail(str(e), 1)
    console.print(f"serving {p.served_name} at {p.base_url} — Ctrl-C to stop")
    try:
        raise typer.Exit(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=60)
