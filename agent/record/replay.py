"""``agent replay``: perform a recorded trajectory again, re-grounding every step on the live screen.

Replaying the recorded coordinates is what makes peer tools brittle (a moved window, another
resolution) and replaying at recorded speed or faster is what makes them flaky (a slow app). Here every
step that points somewhere is found again first:

1. **template match** of the recorded crop (``agent.record.anchors.TemplateGrounder``, several scales); a
   crop that matches twice is retried larger, cut from the recorded screenshot;
2. the **OCR text** anchor, when an OCR grounder is installed and the step has text;
3. the **VLM** grounder, when a model is configured (whatever the caller passes as ``fallbacks``).

Finding is retried on fresh settled screenshots until ``find_timeout``, so an app that is slower than
it was while recording is waited for. After acting, the screen must change when it changed in the
recording (bounded wait). Any failure stops the replay with a ``ReplayFailed`` naming the step, the
reason and a screenshot of the screen as it was; nothing is ever clicked at the old coordinates.
Input goes through the caller's ``StepRunner`` and so through the safe executor.

Steps of ``agent run`` / ``agent do`` have no crop; one is cut from their "before" screenshot around
the action point (mapped through the step's ``screen_area`` and ``image_size``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from actions import secrets
from actions.space import Action, TypeText, action_from_json
from agent.record.anchors import TemplateGrounder, anchor_point, crop_around, crop_boxes, match_mask, score_at
from agent.screen import Frame, Screen, encode, frames_differ, wait_settled
from agent.steps import StepRunner
from agent.trajectory import Trajectory, TrajectoryWriter
from model.base import ModelError
from model.grounding import AmbiguousMatch, ElementNotFound, GroundingError, Grounder, Query, Shot

_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
POINTED = ("click", "mouse_down", "mouse_up", "move", "scroll", "drag")


class ReplayFailed(Exception):
    """A step could not be replayed safely; the replay stopped there."""

    def __init__(self, index: int, reason: str, screenshot: str | None = None):
        self.index, self.reason, self.screenshot = index, secrets.mask(reason), screenshot
        where = f" (screenshot: {screenshot})" if screenshot else ""
        super().__init__(f"step {index}: {self.reason}{where}")


@dataclass
class ReplayOptions:
    speed: float = 0.0  # 0: no pauses beyond settle waits; 1: the person's pace; 2: twice as fast
    start: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    find_timeout: float = 10.0
    change_timeout: float = 2.0
    min_score: float = 0.8
    confirm: Callable[[int, str], bool] | None = None  # --step


@dataclass
class ReplayResult:
    ok: bool
    steps_done: int
    elapsed_s: float
    failed_at: int | None = None
    reason: str | None = None
    screenshot: str | None = None
    not_found: list[int] = field(default_factory=list)  # dry run: steps whose target is not on screen now

    def to_json(self) -> dict:
        return dict(self.__dict__)


class Replayer:
    def __init__(self, recording: Trajectory, screen: Screen, *, runner: StepRunner | None,
                 writer: TrajectoryWriter, options: ReplayOptions = ReplayOptions(),
                 fallbacks: list[Grounder] | None = None, on_step: Callable[..., None] | None = None):
        self.rec = recording
        self.screen = screen
        self.runner = runner  # None: dry run
        self.writer = writer
        self.opt = options
        self.template = TemplateGrounder()
        self.fallbacks = fallbacks or []
        #: ``on_step(index, message, ok)``: a step done (or, in a dry run, found: ok) or not found (not ok)
        self.on_step = on_step or (lambda i, msg, ok=True: None)
        self._images: dict[str, Image.Image] = {}
        self.not_found: list[int] = []

    # files of the recording ---------------------------------------------------------------------
    def _image(self, rel: str | None) -> Image.Image | None:
        if not rel:
            return None
        if rel not in self._images:
            p = (self.rec.folder / rel).resolve()
            if not p.is_relative_to(self.rec.folder.resolve()) or not p.is_file():
                return None
            self._images[rel] = Image.open(p).convert("RGB")
        return self._images[rel]

    def _screen_scale(self, step: dict) -> float:
        """Recorded image pixels → screen pixels (2.0 when the screenshot was downscaled by half)."""
        area, size = step.get("screen_area"), step.get("image_size")
        return area[2] / size[0] if area and size and size[0] else 1.0

    def _cut(self, step: dict, point: tuple[float, float], size: tuple[int, int]):
        """A crop of the recorded screenshot around ``point`` (screen px), ``size`` in screen px, kept
        inside the target's window when the recording knows it."""
        shot = self._image(step.get("screenshot"))
        if shot is None:
            return None
        s = self._screen_scale(step)
        area = step.get("screen_area") or [0, 0, shot.width * s, shot.height * s]
        win = ((step.get("anchor") or {}).get("window") or {}).get("box")
        within = None
        if win:
            within = ((win[0] - area[0]) / s, (win[1] - area[1]) / s,
                      (win[0] + win[2] - area[0]) / s, (win[1] + win[3] - area[1]) / s)
        c = crop_around(shot, (point[0] - area[0]) / s, (point[1] - area[1]) / s,
                        (round(size[0] / s), round(size[1] / s)), within)
        return c.image, c.offset, match_mask(c.image.size, crop_boxes(step.get("masked") or [], c.box))

    def _locate_once(self, step: dict, anchor: dict | None, point, frame: Frame) -> tuple[tuple[float, float], dict]:
        """Template first: the recorded crop (or a cut of the screenshot); when it matches twice, a
        larger cut (more context decides); when it matches nowhere, a smaller one (less context that
        may have changed, e.g. a neighbouring field now filled in). Then the fallback grounders."""
        shot = Shot.full(frame.image, frame.left, frame.top)
        errors: list[str] = []
        recorded = self._image((anchor or {}).get("crop"))
        first = (recorded, tuple(anchor.get("offset") or (0, 0)),
                 match_mask(recorded.size, anchor.get("masked"))) if recorded is not None \
            else self._cut(step, point, (200, 100))
        todo = [("crop", first)] if first else []
        if not todo:
            errors.append("the step has no crop and no screenshot to cut one from")
        tried_larger = tried_smaller = False
        smaller = None  # (template, offset, scale) of a crop that matched in several places
        while todo:
            label, (tpl, offset, mask) = todo.pop(0)
            try:
                m = self.template.locate(shot, Query(template=tpl, min_score=self.opt.min_score),
                                         scale_hint=self._screen_scale(step), mask=mask)
                p = anchor_point(m, tpl, offset)
                # a larger cut only decides between places where the smaller one matches too
                if smaller is not None:
                    st, so, ss, sm = smaller
                    ip = (p[0] - frame.left, p[1] - frame.top)
                    if score_at(frame.image, st, so, ip, ss, mask=sm) < self.opt.min_score:
                        errors.append(f"{label}: matched where the smaller crop does not")
                        continue
                return p, {"method": "template", "crop": label, "score": round(m.score, 3)}
            except AmbiguousMatch as e:
                errors.append(f"{label}: " + str(e).replace("'image template' ", "the crop "))
                if smaller is None:
                    smaller = (tpl, offset, e.matches[0].box.width / tpl.width, mask)
                if not tried_larger:
                    tried_larger = True
                    todo += [(f"{w}x{h}", c) for w, h in ((400, 200), (800, 400))
                             if (c := self._cut(step, point, (w, h)))]
            except ElementNotFound as e:
                errors.append(f"{label}: " + str(e).replace("element 'image template' ", "the crop "))
                if not tried_smaller and not tried_larger:
                    tried_smaller = True
                    todo += [(f"{w}x{h}", c) for w, h in ((100, 50),) if (c := self._cut(step, point, (w, h)))]
        text = (anchor or {}).get("text") or (step.get("action") or {}).get("target")
        for g in self.fallbacks:
            if not text:  # a VLM asked about "None" would answer something: better not ask
                errors.append(f"{getattr(g, 'name', 'fallback')}: the step has no text to describe its target")
                continue
            try:
                m = g.locate(shot, Query(text=text))
                (cx, cy), name = m.center, getattr(g, "name", "fallback")
                off = (anchor or {}).get("text_offset")
                if off and name.startswith("ocr"):  # the click was beside the text (a field by its label)
                    cx, cy = cx + off[0], cy + off[1]
                return (cx, cy), {"method": name, "score": round(m.score, 3)}
            except GroundingError as e:
                errors.append(f"{getattr(g, 'name', 'fallback')}: {e}")
        raise GroundingError("; ".join(errors))

    def _locate(self, index: int, step: dict, anchor: dict | None, point) -> tuple[tuple[float, float], dict, Frame]:
        """Retry on fresh settled screens until found or ``find_timeout`` (a slow app is waited for)."""
        deadline = time.monotonic() + (self.opt.find_timeout if self.runner is not None else 0.0)
        tries = 0
        while True:
            frame = self._observe(fresh=tries > 0)
            tries += 1
            try:
                p, info = self._locate_once(step, anchor, point, frame)
                return p, {**info, "tries": tries}, frame
            except GroundingError as e:
                if time.monotonic() >= deadline:
                    shot = self._save(frame, index, "notfound")
                    raise ReplayFailed(index, f"target not found after {tries} tries: {e}", shot) from None
            except ModelError as e:  # the VLM fallback's server: retrying will not help, a person must act
                raise ReplayFailed(index, f"the VLM fallback grounder failed: {e}",
                                   self._save(frame, index, "notfound")) from None
            time.sleep(0.25)

    def _observe(self, fresh: bool) -> Frame:
        if self.runner is not None:
            return self.runner.observe(fresh=fresh).frame
        return wait_settled(self.screen).frame

    def _save(self, frame: Frame, index: int, label: str) -> str:
        """Keep the screen as it was when a step failed; the failed step is recorded with it."""
        if self.runner is not None:  # secrets typed during this replay stay covered
            rel = self.runner.save_image(frame, step=index, label=label)
        else:
            rel = self.writer.add_image(encode(frame.image), step=index, label=label, ext="png")
        self._failed_shot = (rel, frame)
        return str(self.writer.folder / rel)

    def _record_failure(self, e: ReplayFailed) -> None:
        rel, _frame = getattr(self, "_failed_shot", (None, None))
        # no screen_area: the recorded coordinates must not be drawn as if they were the target
        self.writer.append({"action": self.rec.steps[e.index].get("action"), "ok": False, "error": e.reason,
                            "replay_of": e.index, "screenshot": rel})

    # one step -----------------------------------------------------------------------------------
    def _prepare(self, index: int, step: dict) -> tuple[Action, dict, Frame | None]:
        data = dict(step.get("action") or {})
        kind = data.get("type")
        info: dict = {}
        frame = None
        if kind == "type":
            data["text"] = self._fill(step, data["text"])
        if kind in POINTED and data.get("x" if kind != "drag" else "x1") is not None:
            anchor = step.get("anchor")
            pt = (data["x1"], data["y1"]) if kind == "drag" else (data["x"], data["y"])
            (nx, ny), info, frame = self._locate(index, step, anchor, pt)
            if kind == "drag":
                data.update(x1=round(nx), y1=round(ny), x2=round(nx + data["x2"] - pt[0]),
                            y2=round(ny + data["y2"] - pt[1]))
            else:
                data.update(x=round(nx), y=round(ny))
            if kind == "click" and not data.get("target") and (anchor or {}).get("text"):
                data["target"] = anchor["text"]  # the safety layer reads it (risky words)
        return action_from_json(data), info, frame

    def _fill(self, step: dict, text: str) -> str:
        var = step.get("var")
        if var and var in self.opt.variables:
            return self.opt.variables[var]
        return _VAR.sub(lambda m: self.opt.variables.get(m.group(1), m.group(0)), text)

    def _expect_change(self, index: int) -> bool:
        """Did the screen change after this step while recording? (Its screenshot vs the next one.)"""
        nxt = next((s for s in self.rec.steps[index + 1:] if s.get("screenshot")), None)
        a = self._image(self.rec.steps[index].get("screenshot"))
        b = self._image(nxt.get("screenshot")) if nxt else None
        return a is not None and b is not None and frames_differ(a, b, tolerance=8)

    def run(self) -> ReplayResult:
        t0 = time.monotonic()
        steps = self.rec.steps
        first_t = (steps[self.opt.start].get("t_rel") or 0.0) if self.opt.start < len(steps) else 0.0
        done = 0
        try:
            for i in range(self.opt.start, len(steps)):
                step = steps[i]
                kind = (step.get("action") or {}).get("type")
                if kind in ("done", "fail"):
                    break
                if self.opt.speed > 0 and step.get("t_rel") is not None:
                    lag = (step["t_rel"] - first_t) / self.opt.speed - (time.monotonic() - t0)
                    if lag > 0:
                        time.sleep(lag)
                if self.runner is None:  # dry run: a target missing now is noted, not fatal
                    try:
                        action, info, frame = self._prepare(i, step)
                    except ReplayFailed as e:
                        self._record_failure(e)
                        self.not_found.append(i)
                        self.on_step(i, f"(dry run) NOT FOUND on the current screen: {e.reason}", False)
                        continue
                    self._dry(i, action, info, frame)
                else:
                    action, info, frame = self._prepare(i, step)
                    self._act(i, action, info)
                done += 1
        except ReplayFailed as e:
            self._record_failure(e)
            return ReplayResult(False, done, time.monotonic() - t0, e.index, e.reason, e.screenshot)
        return ReplayResult(True, done, time.monotonic() - t0, not_found=self.not_found)

    def _act(self, i: int, action: Action, info: dict) -> None:
        if self.opt.confirm is not None and not self.opt.confirm(i, action.describe()):
            raise ReplayFailed(i, "declined at the --step prompt")
        before = self.runner.observe().frame
        out = self.runner.act(action, extra={"replay_of": i, "grounding": info or None})
        self.on_step(i, f"{action.describe()}  {info.get('method', '')} {info.get('score', '')}".rstrip())
        if not out.result.ok:
            raise ReplayFailed(i, f"{action.describe()} failed: {out.result.error}",
                               self._save(before, i, "failed"))
        if self._expect_change(i) and not self._changed(before, out.observation.frame if out.observation else None):
            what = "typing" if isinstance(action, TypeText) else action.kind
            raise ReplayFailed(i, f"the screen did not change within {self.opt.change_timeout:g} s after the "
                                  f"{what}, although it did while recording", self._save(before, i, "nochange"))

    def _changed(self, before: Frame, after: Frame | None) -> bool:
        deadline = time.monotonic() + self.opt.change_timeout
        while True:
            if after is not None and frames_differ(before.image, after.image, tolerance=8):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
            after = self.runner.observe(fresh=True).frame

    def _dry(self, i: int, action: Action, info: dict, frame: Frame | None) -> None:
        """Draw where the step would act; act on nothing."""
        frame = frame or self._observe(fresh=True)
        img = frame.image.copy()
        d = ImageDraw.Draw(img)
        for x, y in action.points():
            x, y = x - frame.left, y - frame.top
            d.ellipse((x - 14, y - 14, x + 14, y + 14), outline=(255, 0, 0), width=3)
            d.text((x + 16, y - 8), str(i), fill=(255, 0, 0))
        d.text((8, 8), f"step {i}: {action.describe()}", fill=(255, 0, 0))
        rel = self.writer.add_image(encode(img), step=i, label="dryrun", ext="png")
        self.writer.append({"replay_of": i, "action": action.to_json(), "ok": True, "dry_run": True,
                            "screenshot": rel, "screen_area": [frame.left, frame.top, frame.width, frame.height],
                            "image_size": [frame.width, frame.height], "grounding": info or None})
        self.on_step(i, f"{action.describe()}  (dry run) {info.get('method', '')}".rstrip())


def missing_secrets(recording: Trajectory, start: int = 0) -> list[str]:
    """Secret names the replay will type that are not set in the environment."""
    import os

    names = []
    for s in recording.steps[start:]:
        a = s.get("action") or {}
        if a.get("type") == "type":
            names += [n for n in secrets.names_in(a.get("text", "")) if n not in os.environ and n not in names]
    return names


def variables_in(recording: Trajectory) -> list[str]:
    out: list[str] = []
    for s in recording.steps:
        if s.get("var") and s["var"] not in out:
            out.append(s["var"])
        a = s.get("action") or {}
        if a.get("type") == "type":
            out += [v for v in _VAR.findall(a.get("text", "")) if v not in out]
    return out


def default_out(folder: Path) -> Path:
    return Path("runs") / f"{folder.name}-replay-{time.strftime('%Y%m%d-%H%M%S')}"
