"""``agent record``: watch a person work and write a replayable trajectory as they go.

Four threads, so that nothing slow ever stands between the person's action and its screenshot:

* **capture** (``agent.record.frames.CaptureThread``) grabs the screen every ``interval`` and keeps
  the last few distinct pictures with the times they were seen — nothing else;
* **input** (pynput's two listener threads) turns each mouse/key event into a ``RawEvent`` stamped
  with the X server's own time of the event, and at once *pins* the step's "before" frame: the newest
  picture captured before that time. A step's frame is the pin of its first event (a long step —
  slow typing, a scroll — sees many newer frames before it is complete);
* **merge** (the calling thread, ``run``) feeds the events to ``StepMerger`` (clicks, drags, scrolls,
  typed strings, hotkeys), takes a second look at each pin (a capture may have landed meanwhile),
  notes the window under each point and hands every complete step to the labelling worker;
* **labelling** (``agent.record.labelling.LabellingWorker``) masks secrets, encodes the PNGs, asks
  the labeller (OCR and the screen element model by default, pluggable: ``agent.record.labels``) for
  the target's text, label, element and the step's effect, and appends the step to ``steps.jsonl`` —
  in order, fsync'd;
* **tree** (``agent.record.watch.TreeWatcher``, with ``tree_factory``: when an accessibility bus
  answers) reads the accessibility tree for each new picture while it is on screen, in a child
  process; each step gets the snapshot of its "before" picture and of the picture after it.

**What a crash loses.** ``kill -9`` loses the steps not yet written: at most ``backlog`` (8) handed to
the worker, plus the one it is writing, plus the step the merger still holds open (text being typed,
a click waiting to become a double click) and a click waiting for the screen after it (until the next
event, at most ``AFTER_S``: its effect is read from that screen). The worker stops waiting for a slow labeller rather than
let that queue grow (those steps are written without text labels). The hotkey, Ctrl-C, SIGTERM and
the display going away all end the same way: listeners stopped and joined, the open step flushed, the
queue drained (at most ``drain_s``, then without labels), the trajectory sealed.

Secrets: text typed while the person marks it secret (the secret hotkey, or ``--secret FIELD`` when
the field's label is read by OCR) is written as ``{{secret:NAME}}``; the characters never reach disk.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from agent.record.anchors import window_at
from agent.record.frames import CaptureThread, FrameHistory, Pin, newer
from agent.record.labelling import BACKLOG, LabellingWorker, StepJob, env_name
from agent.record.label_runner import LabellerUnavailable, ProcessRunner, ThreadRunner
from agent.record.labels import Labeller, OcrLabeller, TextLines
from agent.record.listen import InputListeners, ListenError, key_name
from agent.record.merge import RawEvent, Semantic, StepMerger
from agent.record.watch import TreeWatcher
from agent.screen import Screen
from agent.trajectory import TrajectoryWriter

__all__ = ["DEFAULT_SECRET", "DEFAULT_STOP", "RecordError", "Recorder", "env_name", "key_name", "parse_hotkey"]

DEFAULT_STOP = "<ctrl>+<alt>+s"
DEFAULT_SECRET = "<ctrl>+<alt>+m"  # not h: ctrl+h is backspace in Tk and terminals
DRAIN_S = 15.0
#: A step completed by time (a click no second click followed) waits this long for the screen after
#: it — or for the next event, whichever comes first — so that its effect is seen when it has settled.
AFTER_S = 1.5


class RecordError(Exception):
    """The recording cannot start or go on (no display, no input listener, a bad hotkey, a full disk)."""


def parse_hotkey(text: str) -> tuple[str, ...]:
    """``"<ctrl>+<alt>+s"`` (pynput spelling) or ``"ctrl+alt+s"`` → ``("ctrl", "alt", "s")``."""
    keys = []
    for part in text.split("+"):
        k = key_name(part.strip().strip("<>").lower())
        if k is None:
            raise RecordError(f"bad hotkey {text!r}: unknown key {part!r}")
        keys.append(k)
    return tuple(keys)


class Recorder:
    """Records until the stop hotkey, a signal, ``request_stop`` or the display going away.

    Labelling (``agent.record.labels``): ``labeller_factory`` (picklable, zero arguments) builds the
    labeller in a child process — the CLI passes ``ocr_labeller``; or ``labeller`` runs a callable on
    a thread of this process; or ``ocr(image)`` (text lines as ``(text, x, y, w, h)``) gives the OCR
    labeller on a thread. With none of them, steps carry no text labels.
    ``secret_fields`` maps a label (case-insensitive) to a secret name. ``on_step(index, step)`` runs
    on the labelling thread as each step is written; ``on_note(text)`` on the calling thread.
    ``tree_factory`` (picklable, e.g. ``functools.partial(agent.record.watch.tree_reader, display)``)
    starts the accessibility watcher; when it cannot start (no bus) steps are named from pixels."""

    def __init__(self, folder: str | Path, *, screen: Screen, stop_hotkey: str = DEFAULT_STOP,
                 secret_hotkey: str | None = DEFAULT_SECRET, secret_fields: dict[str, str] | None = None,
                 ocr: TextLines | None = None, labeller: Labeller | None = None,
                 labeller_factory: Callable[[], Labeller] | None = None, interval: float = 0.05,
                 on_step: Callable[[int, dict], None] | None = None, on_note: Callable[[str], None] | None = None,
                 backlog: int = BACKLOG, drain_s: float = DRAIN_S,
                 tree_factory: Callable[[], Callable] | None = None) -> None:
        self.folder = Path(folder)
        self.screen = screen
        self.stop_keys = parse_hotkey(stop_hotkey)
        self.secret_keys = parse_hotkey(secret_hotkey) if secret_hotkey else None
        self.secret_fields = secret_fields or {}
        self.labeller = labeller if labeller is not None else (OcrLabeller(ocr) if ocr is not None else None)
        self.labeller_factory = labeller_factory
        self.tree_factory = tree_factory
        self._tree: TreeWatcher | None = None
        self.interval, self.backlog, self.drain_s = interval, backlog, drain_s
        self.on_step = on_step or (lambda i, s: None)
        self.on_note = on_note or (lambda text: None)
        self.events: queue.SimpleQueue[RawEvent] = queue.SimpleQueue()
        self.history = FrameHistory()
        self.stopped_by: str | None = None
        self.figures: dict = {}
        self._stop_requested = False
        self._worker: LabellingWorker | None = None
        self._listeners = InputListeners(self.events.put, self._pin, screen.display)
        self._pins: dict[float, Pin | None] = {}
        self._pins_lock = threading.Lock()
        self._windows: dict[float, dict | None] = {}
        self._win_cache: tuple[tuple[int, int], float, dict | None] | None = None
        self._last_fed = float("-inf")  # the time of the last event fed to the merger
        self._held: list[Semantic] = []  # steps complete but waiting for the screen after them

    def _pin(self, t: float) -> None:
        """Pin the "before" frame of an event at ``t`` (again: keep the fresher of two looks)."""
        pin = self.history.before(t)
        with self._pins_lock:
            self._pins[t] = newer(self._pins.get(t), pin)

    def request_stop(self) -> None:
        self._stop_requested = True

    # merge loop -------------------------------------------------------------------------------
    def _window(self, x: int, y: int, t: float) -> dict | None:
        c = self._win_cache
        if c is not None and c[0] == (x, y) and abs(t - c[1]) < 1.0:
            return c[2]
        win = window_at(x, y)
        self._win_cache = ((x, y), t, win)
        return win

    def _release(self, worker: LabellingWorker, next_t: float | None, now: float | None = None) -> None:
        """Hand over the steps held for their "after" screen: all of them at the next event
        (``next_t``) or at the end, else those older than ``AFTER_S`` (``now``)."""
        while self._held and (now is None or now - self._held[0].t1 > AFTER_S):
            self._submit(self._held.pop(0), worker, next_t)

    def _take(self, ev: RawEvent, merger: StepMerger, worker: LabellingWorker) -> None:
        if ev.kind in ("press", "scroll", "key_down"):
            self._pin(ev.t)  # a second look: a capture from just before the event may have landed
            self._release(worker, ev.t)
        if ev.kind in ("press", "scroll", "release"):
            self._windows[ev.t] = self._window(ev.x, ev.y, ev.t)
        for sem in merger.feed(ev):
            self._submit(sem, worker, ev.t)
        self._last_fed = ev.t

    def _submit(self, sem: Semantic, worker: LabellingWorker, next_t: float | None) -> None:
        with self._pins_lock:
            pin = self._pins.pop(sem.t0, None)
        pin = pin or self.history.before(sem.t0)
        after = self.history.before(next_t) if next_t is not None else None
        tree = after_tree = tree_frame = None
        if self._tree is not None:
            tree = self._tree.for_picture(pin.first_seen, sem.t0) if pin is not None else None
            if tree is None and (older := self._tree.before(sem.t0)) is not None:
                tree_frame = self.history.picture(older.picture)  # the labeller compares the two
                tree = older if tree_frame is not None else None
            if after is not None:
                after_tree = self._tree.for_picture(after.first_seen, next_t)
            elif (newest := self.history.newest()) is not None:
                after_tree = self._tree.for_picture(newest[1], float("inf"))
        worker.submit(StepJob(sem, pin, after.frame if after else self.history.latest(),
                              self._windows.get(sem.t0), self._windows.get(sem.t1) if sem.end_point else None,
                              self.history.capture_after(sem.t0), tree, after_tree, tree_frame))

    def _prune(self, merger: StepMerger) -> None:
        keep = set(merger.open_since()) | {t for h in self._held for t in (h.t0, h.t1)}
        last = self._last_fed
        with self._pins_lock:  # pins of events not merged yet, or of steps still open or held
            self._pins = {t: p for t, p in self._pins.items() if t in keep or t > last}
        self._windows = {t: w for t, w in self._windows.items() if t in keep or t > last}

    @contextmanager
    def _signals_stop(self):
        """Ctrl-C and SIGTERM end the recording like the hotkey (a second one: stop waiting for
        labels). Only the main thread can take signals; elsewhere the caller's handlers stay."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):  # noqa: ANN001
            if self._stop_requested and self._worker is not None:
                self._worker.hurry()
            self._stop_requested = True
            self.stopped_by = self.stopped_by or ("interrupt" if signum == signal.SIGINT else "terminate")

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def run(self, *, ready: Callable[[], None] | None = None) -> int:
        """Record until stopped; return the number of steps written. The trajectory is sealed on the
        way out whatever ends the recording."""
        w, h = self.screen.size()
        merger = StepMerger(stop=self.stop_keys, secret=self.secret_keys)
        writer = TrajectoryWriter(self.folder, kind="record", meta={
            "screen": [w, h], "stop_hotkey": "+".join(self.stop_keys),
            "secret_hotkey": "+".join(self.secret_keys) if self.secret_keys else None,
            "capture_interval_s": self.interval})
        t_start = time.monotonic()
        capture = CaptureThread(self.history, display=self.screen.display, interval=self.interval)
        runner = tree_runner = None
        worker = self._worker = LabellingWorker(writer, runner=None, t_start=t_start,
                                                secret_fields=self.secret_fields, on_step=self.on_step,
                                                backlog=self.backlog)
        lost = 0
        try:
            with self._signals_stop():
                try:
                    runner = worker.runner = self._start_runner()
                    if runner is None and self.secret_fields:
                        raise RecordError("--secret FIELD needs the labeller (OCR) to read field labels, and it "
                                          "could not start; mark secret typing with the secret hotkey instead")
                    tree_runner = self._start_tree()
                    capture.start()
                    capture.started_capturing.wait(30)
                    if capture.error is not None:
                        raise RecordError(f"cannot capture the screen: {capture.error}")
                    if tree_runner is not None:
                        self._tree = TreeWatcher(self.history, tree_runner, quiet=self.interval)
                        self._tree.start()
                    worker.start()
                    try:
                        self._listeners.start()
                    except ListenError as e:
                        raise RecordError(str(e)) from None
                    if ready:
                        ready()
                    self._loop(merger, worker, capture)
                except KeyboardInterrupt:  # signals reach us this way only off the main thread
                    self.stopped_by = self.stopped_by or "interrupt"
                finally:
                    self._listeners.stop()
                    if not merger.stopped:  # events from before the stop still count
                        while True:
                            try:
                                self._take(self.events.get_nowait(), merger, worker)
                            except queue.Empty:
                                break
                    self._release(worker, None)
                    for sem in merger.flush():
                        self._submit(sem, worker, None)
                    capture.stop()
                    if self._tree is not None:
                        self._tree.stop()
                    if worker.pending():
                        self.on_note(f"writing the last {worker.pending()} step(s) ...")
                    lost = worker.finish(self.drain_s)
        finally:
            for r in (runner, tree_runner):
                if r is not None:
                    r.close()
            self.stopped_by = self.stopped_by or ("hotkey" if merger.stopped else "request")
            self.figures = {"capture_interval_s": self.interval, "captures": self.history.captures,
                            "slowest_capture_gap_s": round(capture.slowest_s, 3), "late_captures": capture.late,
                            "input_delivery_lag_max_s": round(self._listeners.lag, 3), "unlabelled_steps": worker.unlabelled}
            if self._tree is not None:
                self.figures.update({"tree_reads": self._tree.reads, "tree_shared": self._tree.shared,
                                     "tree_slowest_s": round(self._tree.slowest_s, 3),
                                     **({"tree_error": self._tree.error} if self._tree.error else {})})
            status = {"ok": worker.error is None and not lost, "stopped_by": self.stopped_by, "lost_steps": lost,
                      **self.figures}
            if worker.error is not None:
                status["error"] = f"{type(worker.error).__name__}: {worker.error}"
            writer.close({**status, "steps": writer.steps_written})
        if worker.error is not None:
            raise RecordError(f"cannot write the recording (kept {writer.steps_written} steps): {worker.error}")
        return writer.steps_written

    def _start_tree(self):
        if self.tree_factory is None:
            return None
        try:
            return ProcessRunner(self.tree_factory)
        except LabellerUnavailable as e:
            self.on_note(f"no accessibility tree (targets named from pixels): {e}")
            return None

    def _start_runner(self):
        if self.labeller_factory is not None:
            try:
                return ProcessRunner(self.labeller_factory)
            except LabellerUnavailable as e:
                self.on_note(f"no text labels: {e}")
                return None
        return ThreadRunner(self.labeller) if self.labeller is not None else None

    def _loop(self, merger: StepMerger, worker: LabellingWorker, capture: CaptureThread) -> None:
        while not merger.stopped and not self._stop_requested:
            if capture.error is not None:
                self.stopped_by = "display-lost"
                self.on_note(f"the display went away ({capture.error}); recording stopped")
                return
            if worker.error is not None:
                self.stopped_by = "write-error"
                return
            if (e := self._listeners.error) is not None:
                self.stopped_by = "listener-error"
                self.on_note(f"the input listener failed ({type(e).__name__}: {e}); recording stopped")
                return
            try:
                ev: RawEvent | None = self.events.get(timeout=0.02)
            except queue.Empty:
                ev = None
            while ev is not None and not merger.stopped:
                self._take(ev, merger, worker)
                try:
                    ev = self.events.get_nowait()
                except queue.Empty:
                    ev = None
            now = time.monotonic()
            self._held += merger.tick(now)  # a click complete: its "after" screen is yet to come
            self._release(worker, None, now)
            self._prune(merger)
