"""The labelling worker: merged steps in, trajectory lines out — in order, behind the capture.

The recorder's merge loop hands each complete step over as a ``StepJob`` (the step, its pinned
"before" frame, the frame after it, the windows under its points) and goes straight back to work;
this worker, on its own thread, masks secrets, encodes the screenshot and crops (PNG, ~20 ms for
1280x800), asks the labeller (``agent.record.labels``: OCR by default) for the target's text and
label, names typed values and secrets, and appends the step to ``steps.jsonl`` (fsync'd). One
worker, one queue: steps are written in the order they happened, each once its labelling is done.

**Never far behind.** The labeller runs elsewhere (a child process by default, see
``agent.record.label_runner``), one call at a time. The worker waits for
it only while fewer than ``backlog`` steps are queued behind and for at most ``budget_s``; past that
(and while an abandoned call is still running, and after the drain deadline) steps are written
without the labeller's fields, with ``label_error`` saying why. So a slow or stuck OCR costs labels,
never steps, and the queue stays short: ``kill -9`` loses at most ``backlog`` queued steps plus the
one being written (and the step the merger still holds open) — as long as writing a step without
labels (PNG encoding, ~20–60 ms) keeps up with the person, which it does by two orders of magnitude.

**Secrets stay safe when labels are missing.** With ``--secret FIELD``, text typed after a click
whose labelling failed or was skipped is stored as a secret: the field's label is unknown, and
over-masking is the safe failure. A secret's characters, once typed, are blanked (``***``) from
everything later written — an element's name, an effect — should the screen show them again.

**Names for values.** A typed value is named from the element typed into (its label: ``full_name``),
else from the label OCR read beside the clicked field. A click that chooses (``agent.record.locators``:
a suggestion, a calendar day, a table row's button, a radio option, a check box) gets ``choice:
{var, value}``; a suggestion picked right after typing shares the typed field's name, so ``--var
from="Berlin Hbf"`` types the new station and picks it; a calendar day's value is its date
(``2026-12-15``).
"""

from __future__ import annotations

import dataclasses
import json
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol
from dataclasses import dataclass

from actions import secrets
from agent.record.anchors import crop_around, crop_boxes
from agent.record.frames import Pin
from agent.record.labels import window_box
from agent.record.locators import choice_name, choice_value, day_date, var_name
from agent.record.merge import Semantic
from agent.record.watch import TreeSnapshot
from agent.screen import Frame, encode
from agent.screen.redact import SecretMasker
from agent.trajectory import TrajectoryWriter

#: Steps that may wait for labelling before the worker stops waiting for the labeller.
BACKLOG = 8
#: The longest one step's labelling may take.
BUDGET_S = 10.0


def env_name(text: str) -> str:
    """A field label as an environment variable name: ``"Pass word:"`` → ``PASS_WORD``."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return name if name and not name[0].isdigit() else f"SECRET_{name}".rstrip("_")


@dataclass
class StepJob:
    sem: Semantic
    pin: Pin | None  # the "before" frame, pinned when the step's first event arrived
    after: Frame | None  # the screen once the step was complete (where a typed secret is drawn)
    window: dict | None = None  # the top-level window under sem.point at the event
    end_window: dict | None = None  # ... under sem.end_point (a drag's release)
    next_capture: float | None = None  # the first capture after the step's first event
    tree: TreeSnapshot | None = None  # the accessibility tree read while ``pin`` was on screen
    after_tree: TreeSnapshot | None = None  # ... while ``after`` was
    tree_frame: Frame | None = None  # set when ``tree`` was read for an older picture: that picture


class Runner(Protocol):
    """Runs the labeller one call at a time (``agent.record.label_runner``)."""

    kinds: frozenset[str] | None
    context: bool

    def submit(self, frame: Frame, point, kind: str, window: dict | None, *context: dict) -> Future: ...


class LabellingWorker:
    def __init__(self, writer: TrajectoryWriter, *, runner: Runner | None, t_start: float,
                 secret_fields: dict[str, str] | None = None, on_step: Callable[[int, dict], None] | None = None,
                 backlog: int = BACKLOG, budget_s: float = BUDGET_S) -> None:
        self.writer, self.runner, self.t_start = writer, runner, t_start
        self.secret_fields = {k.lower(): v for k, v in (secret_fields or {}).items()}
        self.on_step = on_step or (lambda i, s: None)
        self.backlog, self.budget_s = backlog, budget_s
        self.masker = SecretMasker()  # a secret shown in its field stays out of later screenshots
        self.error: Exception | None = None  # writing failed (disk full ...): the recording must stop
        self.unlabelled = 0  # steps written without the labeller's fields
        self.dropped = 0  # steps not written because writing had failed
        self._jobs: queue.Queue[StepJob | None] = queue.Queue()
        self._hurry = threading.Event()
        self._in_flight: Future | None = None
        self._last_click: dict | None = None
        self._last_typed: dict | None = None  # the field and name of a typing step just written
        self._secrets: set[str] = set()  # typed secret texts, blanked from all that is written later
        self._names: set[str] = set()
        self._t_prev: float | None = None
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)

    # the merge loop's side --------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, job: StepJob) -> None:
        self._jobs.put(job)

    def pending(self) -> int:
        """Steps handed over and not yet written (what ``kill -9`` would lose now)."""
        return self._jobs.unfinished_tasks

    def finish(self, timeout: float) -> int:
        """Write every step handed over, waiting at most ``timeout`` s for the labeller and then
        writing the rest without it. Returns the steps left unwritten (0 unless writing itself is
        stuck or failed, e.g. a hung or full disk)."""
        if self._thread.ident is None:  # never started (the recording failed to start)
            return 0
        self._jobs.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._hurry.set()  # the rest without labels: ~30 ms a step
            self._thread.join(10.0 + 0.2 * self._jobs.qsize())
        stuck = max(0, self._jobs.unfinished_tasks - 1) if self._thread.is_alive() else 0
        return stuck + self.dropped

    def hurry(self) -> None:
        """Stop waiting for the labeller (a second Ctrl-C)."""
        self._hurry.set()

    # the worker's side ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    self._write(job)
                else:
                    self.dropped += 1  # writing failed before: nothing more can be kept
            except Exception as e:  # noqa: BLE001 - reported by the recorder, which stops
                self.error = e
                self.dropped += 1
            finally:
                self._jobs.task_done()

    def _label(self, frame: Frame, point, kind: str, window: dict | None, context: dict | None = None) -> dict:
        wanted = getattr(self.runner, "kinds", None)
        if self.runner is None or (wanted is not None and kind not in wanted):
            return {}
        deadline = time.monotonic() + self.budget_s

        def give_up() -> str | None:
            if self._hurry.is_set():
                return "skipped: the recording was stopping"
            if self._jobs.qsize() >= self.backlog:
                return f"skipped: labelling fell {self._jobs.qsize()} steps behind"
            if time.monotonic() > deadline:
                return f"skipped: labelling took over {self.budget_s:g} s"
            return None

        why = give_up()
        while why is None and self._in_flight is not None and not self._in_flight.done():
            try:  # an earlier step's call, abandoned, still running: wait for it within our budget
                self._in_flight.exception(timeout=0.05)
            except TimeoutError:
                why = give_up()
        if why is None:
            extra = (context or {},) if getattr(self.runner, "context", False) else ()
            fut = self._in_flight = self.runner.submit(frame, point, kind, window, *extra)
            while why is None:
                try:
                    fields = fut.result(timeout=0.05)
                    if not isinstance(fields, dict):
                        raise TypeError(f"the labeller returned {type(fields).__name__}, not a dict")
                    return fields
                except TimeoutError:
                    why = give_up()
                except Exception as e:  # noqa: BLE001 - OCR is a hint; a step is never lost for it
                    self.unlabelled += 1
                    return {"label_error": f"{type(e).__name__}: {e}"[:300]}
        self.unlabelled += 1
        return {"label_error": why}

    def _anchor(self, index: int, frame: Frame, point: tuple[int, int], kind: str, window: dict | None,
                label: str, masked: list = (), context: dict | None = None) -> tuple[dict, dict]:
        """The anchor of a pointed step, and the step-level fields its labelling gave (``effect``)."""
        x, y = point
        c = crop_around(frame.image, x - frame.left, y - frame.top, within=window_box(frame, window))
        anchor = {"point": [x, y], "crop": self.writer.add_image(encode(c.image), step=index, label=label, ext="png"),
                  "offset": [round(c.offset[0], 1), round(c.offset[1], 1)], "text": None, "window": window,
                  "masked": crop_boxes(masked, c.box)}  # replay's template match leaves a secret's box out
        fields = self._label(frame, point, kind, window, context)
        step_fields = {k: fields.pop(k) for k in ("effect", "focus", "parts_s") if k in fields}
        anchor.update(fields)
        return anchor, step_fields

    def _context(self, job: StepJob) -> dict:
        after = job.after
        if after is not None:  # secrets shown so far stay covered in what the labeller reads
            after = dataclasses.replace(after, image=self.masker.apply(after.image, after.image))
        tree_frame = job.tree_frame
        if tree_frame is not None:
            tree_frame = dataclasses.replace(tree_frame, image=self.masker.apply(tree_frame.image, tree_frame.image))
        return {"tree": job.tree.elements if job.tree else None, "windows": job.tree.windows if job.tree else None,
                "tree_frame": tree_frame,
                "after": after, "after_tree": job.after_tree.elements if job.after_tree else None,
                "after_windows": job.after_tree.windows if job.after_tree else None}

    def _write(self, job: StepJob) -> None:
        sem, index, started = job.sem, self.writer.steps_written, time.monotonic()
        step: dict = {"action": sem.action.to_json(), "ok": True, "thought": None}
        kind = step["action"]["type"]
        raw = job.pin.frame if job.pin is not None else None
        frame = None
        masked: list = []
        if raw is not None:
            masked = self.masker.boxes(raw.image)
            frame = dataclasses.replace(raw, image=self.masker.apply(raw.image, raw.image))
            if masked:  # replay leaves these out when it matches cuts of this screenshot
                step["masked"] = [list(b) for b in masked]
            step["screenshot"] = self.writer.add_image(encode(frame.image), step=index, label="before", ext="png")
            step["screen_area"] = [frame.left, frame.top, frame.width, frame.height]
            step["image_size"] = [frame.width, frame.height]
        context = self._context(job) if frame is not None and getattr(self.runner, "context", False) else None
        if job.tree is not None or job.after_tree is not None:  # where the element names came from
            step["tree"] = {"before": None if job.tree is None else "older" if job.tree_frame is not None else "read",
                            "after": "read" if job.after_tree is not None else None}
        if frame is not None and sem.point is not None:
            step["anchor"], more = self._anchor(index, frame, sem.point, kind, job.window, "crop", masked, context)
            step.update(more)
            if sem.end_point is not None:
                step["anchor_end"], _ = self._anchor(index, frame, sem.end_point, "drag-end", job.end_window,
                                                     "crop-end", masked)
        elif frame is not None:
            fields = self._label(frame, None, kind, None, context)
            step.update({k: fields.pop(k) for k in ("effect", "focus", "parts_s", "picked") if k in fields})
            if fields:
                step["labels"] = fields
        if kind == "type" and "focus" not in step:  # no tree said: the field clicked just before
            el = (self._last_click or {}).get("element")
            if el and el.get("role") in ("entry", "textarea", "spinbox", "combobox"):
                step["focus"] = el
        if kind == "click":
            self._choice(step)
            self._last_click = step.get("anchor") or {"label_error": "no frame"}
        elif kind in ("press", "hotkey", "drag", "scroll"):
            self._last_click = None  # focus may have moved: the clicked field's label no longer applies
        picked = step.pop("picked", None)  # keys chose an option of a drop-down: that option is the value
        if kind == "press" and picked and self._last_typed and self._last_typed["field"] == picked["field"]:
            step["choice"] = {"var": self._last_typed["var"], "value": picked["value"]}
        if kind == "type":
            self._typed(step, sem)
            if picked and step.get("var") and (step.get("focus") or {}).get("name") == picked["field"]:
                step["choice"] = {"var": step["var"], "value": picked["value"]}
            if "secret" in step and raw is not None and job.after is not None:
                clicked = (self._last_click or {}).get("point")  # the field clicked to focus it: cover its bounds
                point = (clicked[0] - job.after.left, clicked[1] - job.after.top) if clicked else None
                self.masker.typed_secret(raw.image, job.after.image, point=point)
            if "secret" in step and len(sem.action.text) >= 3:
                self._secrets.add(sem.action.text)
        self._last_typed = None if kind != "type" else self._last_typed
        if self._secrets:
            step = self._scrub(step)
        step["timings"] = {
            "person_s": round(sem.t0 - (self._t_prev if self._t_prev is not None else self.t_start), 3),
            "duration_s": round(sem.t1 - sem.t0, 3),
            "frame_age_s": round(job.pin.age, 3) if job.pin is not None else None,
            # > 0: no capture between the pinned frame and the event was passed over
            "next_capture_s": round(job.next_capture - sem.t0, 3) if job.next_capture is not None else None,
            "label_s": round(time.monotonic() - started, 3),
            **({"label_parts_s": step.pop("parts_s")} if "parts_s" in step else {}),
            "written_after_s": round(time.monotonic() - sem.t1, 3)}
        step["t_rel"] = round(sem.t0 - self.t_start, 3)
        self._t_prev = sem.t1
        self.writer.append(step)
        try:
            self.on_step(index, step)
        except Exception:  # noqa: BLE001 - showing a step is no reason to stop recording
            pass

    def _scrub(self, step: dict) -> dict:
        """``step`` with every secret typed so far blanked (an element may show one again)."""
        text = json.dumps(step)
        for value in self._secrets:
            text = text.replace(json.dumps(value)[1:-1], secrets.MASK)
        return json.loads(text)

    def _choice(self, step: dict) -> None:
        """Name a click that chooses (module docstring) as ``choice: {var, value}``."""
        loc = (step.get("anchor") or {}).get("element")
        if not loc:
            return
        typed = self._last_typed
        completes = typed is not None and loc.get("role") in ("listitem", "option")
        name = choice_name(loc, typed["field"] if completes else None)
        if name is None:
            return
        if loc.get("role") == "checkbox":
            value = "no" if "checked" in (loc.get("states") or []) else "yes"  # the state the click leaves
        elif loc.get("month"):  # a calendar day: the date it stands for, as YYYY-MM-DD
            value = day_date(loc.get("name"), loc["month"]) or choice_value(loc)
        else:
            value = choice_value(loc)
        if not value:
            return
        step["choice"] = {"var": typed["var"] if completes else self._unique(name), "value": value}

    def _typed(self, step: dict, sem: Semantic) -> None:
        """Name the typed value (for ``--var`` and export) and replace it by a placeholder if secret."""
        self._last_typed = None
        last = self._last_click or {}
        own = (step.get("labels") or {}).get("label") or (step.get("focus") or {}).get("name")
        field = own or last.get("label")
        said = " ".join(t for t in (field, None if own else last.get("text")) if t)
        secret_name = next((name for f, name in self.secret_fields.items() if f in said.lower()), None)
        unread = bool(self.secret_fields) and not own and "label_error" in last
        if sem.secret or secret_name or unread:
            name = self._unique(secret_name or (env_name(field) if field else "SECRET"))
            step["action"]["text"] = "{{secret:%s}}" % name
            step["secret"] = name
            if unread and not (sem.secret or secret_name):
                step["secret_why"] = "the clicked field's label was not read; kept secret to be safe"
            return
        step["var"] = self._unique(var_name(field))
        if field and (step.get("focus") or {}).get("role") in ("entry", "combobox", "spinbox", "textarea"):
            self._last_typed = {"field": field, "var": step["var"]}

    def _unique(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}{n}" if base[-1:].isalpha() else f"{base}_{n}"
        self._names.add(name)
        return name
