"""MiniWoB++ through our own executor: the page runs in a real (non-headless) Chromium window on this
task's virtual desktop, and every action is a real pyautogui click or keystroke on that window.

Why not MiniWoB's own selenium actions: they bypass the screen entirely, so they prove nothing about
grounding, coordinates or the executor. Here selenium is used only to *start* the episode (``reset``)
and to *read MiniWoB's own reward* at the end; the policy sees screenshots (the model) or the task's
DOM boxes (the scripted oracle), and acts through ``StepRunner`` → ``Executor`` → pyautogui.

Page → screen mapping: the mouse is moved once over the page and a ``mousemove`` listener reports
``screenX - clientX`` / ``screenY - clientY``, which is exactly the window's content offset (title bar
and borders included, whatever the window manager did); the geometry formula is the fallback.

Chromium as root needs ``--no-sandbox``: a wrapper script is made and ``MINIWOB_CHROME_BINARY`` /
``MINIWOB_CHROMEDRIVER`` point at it and at ``/usr/bin/chromedriver`` unless already set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tasks.spec import TaskError, TaskInstance, TaskSpec


class MiniWobUnavailable(TaskError):
    """miniwob, selenium, Chromium or chromedriver is missing."""


def _chrome_env() -> None:
    if os.environ.get("MINIWOB_CHROME_BINARY") and os.environ.get("MINIWOB_CHROMEDRIVER"):
        return
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chrome or not Path(driver).exists():
        raise MiniWobUnavailable("MiniWoB++ needs Chromium and chromedriver: apt-get install chromium chromium-driver")
    wrapper = Path(tempfile.mkdtemp(prefix="desk-miniwob-")) / "chromium"
    flags = "--no-sandbox " if os.geteuid() == 0 else ""
    wrapper.write_text(f'#!/bin/sh\nexec {chrome} {flags}--disable-gpu --no-first-run "$@"\n')
    wrapper.chmod(0o755)
    os.environ["MINIWOB_CHROME_BINARY"], os.environ["MINIWOB_CHROMEDRIVER"] = str(wrapper), driver


def make_env(name: str):
    _chrome_env()
    try:
        import gymnasium
        import miniwob
    except ImportError as e:
        raise MiniWobUnavailable(f"{e}: pip install miniwob selenium (or pip install -e '.[miniwob]')") from None
    gymnasium.register_envs(miniwob)
    return gymnasium.make(f"miniwob/{name}-v1", render_mode="human")


def all_specs() -> list[TaskSpec]:
    """Every MiniWoB++ environment registered by the package (``agent eval miniwob-all``)."""
    import gymnasium

    from tasks.miniwob_scripts import SCRIPTS

    try:
        import miniwob
    except ImportError as e:
        raise MiniWobUnavailable(f"{e}: pip install miniwob") from None
    gymnasium.register_envs(miniwob)
    names = sorted(k.split("/", 1)[1].rsplit("-v", 1)[0] for k in gymnasium.registry if k.startswith("miniwob/"))
    return [TaskSpec(id=f"miniwob.{n}", app="miniwob", goal="(the instruction on the page)", setup={"env": n},
                     check=[{"reward": {"min": 1.0}}], oracle=n if n in SCRIPTS else None, tags=("all",))
            for n in names]


class Page:
    """The MiniWoB page as the oracle sees it: DOM boxes in screen coordinates, refreshed on demand."""

    def __init__(self, env, offset: tuple[float, float]) -> None:
        self.env, self.offset = env, offset
        self.obs: dict[str, Any] = {}
        self.reward: float | None = None
        self.done = False

    def refresh(self) -> dict:
        from miniwob.action import ActionTypes

        obs, reward, done, _, info = self.env.step(self.env.unwrapped.create_action(ActionTypes.NONE))
        self.done = bool(done)
        if done:
            self.reward = float(info.get("raw_reward", reward))
        else:
            self.obs = obs
        return obs

    def elements(self) -> list[dict]:
        return list(self.obs.get("dom_elements", ()))

    def find(self, *, text: str | None = None, tag: str | None = None, id: str | None = None,
             cls: str | None = None, pred=None) -> dict:
        for e in self.elements():
            if text is not None and str(e["text"]).strip() != text:
                continue
            if tag is not None and e["tag"] != tag:
                continue
            if id is not None and e["id"] != id:
                continue
            if cls is not None and cls not in str(e["classes"]).split():
                continue
            if pred is not None and not pred(e):
                continue
            return e
        raise TaskError(f"no element with text={text!r} tag={tag!r} id={id!r} cls={cls!r} on the page")

    def center(self, e: dict) -> tuple[float, float]:
        x, y = float(e["left"][0]), float(e["top"][0])
        w, h = float(e["width"][0]), float(e["height"][0])
        return self.offset[0] + x + w / 2, self.offset[1] + y + h / 2


def calibrate(env, backend) -> tuple[float, float]:
    """The screen position of the page's (0, 0), measured with one mouse move over the page."""
    drv = env.unwrapped.instance.driver
    drv.execute_script("window.__deskmm = null; document.addEventListener('mousemove', e => "
                       "{window.__deskmm = [e.screenX - e.clientX, e.screenY - e.clientY]}, true);")
    sx, sy, ow, oh, iw, ih = drv.execute_script("return [window.screenX, window.screenY, window.outerWidth, "
                                                "window.outerHeight, window.innerWidth, window.innerHeight]")
    guess = (sx + (ow - iw) / 2, sy + (oh - ih) - (ow - iw) / 2)
    for dx in (0, 7):  # a move, then a second one so Chromium surely sees motion over the page
        backend.move(int(guess[0] + 150 + dx), int(guess[1] + 5))
        time.sleep(0.1)
    got = drv.execute_script("return window.__deskmm")
    return (float(got[0]), float(got[1])) if got else guess


def run_miniwob(inst: TaskInstance, out: Path, *, policy: str, approve: bool, max_seconds: float) -> dict:
    from actions.backends import PyAutoGUIBackend
    from actions.errors import SafetyStop
    from actions.executor import Executor
    from agent.elements.probe import LiveScreenProbe
    from actions.safety import SafetyPolicy, TerminalConfirmer
    from agent.screen import Screen
    from agent.steps import StepRunner
    from agent.trajectory import TrajectoryWriter
    from tasks.checks import evaluate, passed
    from tasks.miniwob_scripts import MiniWobContext, get_script
    from tasks.oracle import OracleApprover

    name = inst.spec.setup.get("env") or inst.spec.id.split(".", 1)[1]
    env = make_env(name)
    info: dict[str, Any] = {"miniwob_env": name}
    try:
        obs, _ = env.reset(seed=inst.seed)
        goal = str(obs["utterance"])
        backend = PyAutoGUIBackend()
        approver = OracleApprover(allowed=approve) if policy == "oracle" else TerminalConfirmer(assume_yes=approve)
        ex = Executor(backend, SafetyPolicy(max_steps=inst.spec.max_steps + 20, max_seconds=max_seconds),
                      confirmer=approver, probe=LiveScreenProbe())
        page = Page(env, calibrate(env, backend))
        page.obs = obs
        info["page_offset"] = list(page.offset)
        with Screen() as screen:
            writer = TrajectoryWriter(out / "trajectory", kind="eval", meta={
                "goal": goal, "task": inst.spec.id, "seed": inst.seed, "policy": policy, "miniwob_env": name})
            runner = StepRunner(ex, screen, writer)
            t = time.monotonic()
            ending, answer = "error", None
            try:
                if policy == "oracle":
                    ctx = MiniWobContext(runner, page, approver)
                    get_script(inst.spec.oracle)(ctx, obs)
                    ending = ctx.ending or "error"
                else:
                    from tasks.worker import _model_episode

                    info |= _model_episode(TaskInstance(inst.spec, inst.seed, inst.params, goal), runner)
                    ending, answer = info.pop("status"), info.pop("answer")
            except SafetyStop as e:
                ending, info["safety_stop"] = "stopped", str(e) or e.reason
            except TaskError as e:
                ending, info["error"] = "error", f"oracle: {e}"
            episode_s = time.monotonic() - t
            if page.reward is None:
                page.refresh()
            info["reward"] = page.reward
            checks = evaluate(inst, None, ending, info)
            ok = passed(checks) and ending != "error"
            writer.close({"ok": ok, "ending": ending, "reward": page.reward})
        return {"goal": goal, "ending": ending, "answer": answer, "success": ok, "checks": [c.to_json() for c in checks],
                "trajectory": str(out / "trajectory"), "steps": ex.steps, "episode_s": round(episode_s, 3),
                "safety_stops": 1 if ending == "stopped" else 0, **info}
    finally:
        env.close()
