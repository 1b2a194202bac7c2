"""The recorder's pipeline without a display: event times from X server stamps, the frame history
"before" frames are pinned from, and the labelling worker (order, failures, a stuck labeller, the
drain, secrets when labels are missing), with the labeller on a thread and in its child process."""

from __future__ import annotations

import functools
import threading
import time

import pytest
from PIL import Image

from actions.space import Click, KeyPress, TypeText
from agent.record.frames import FrameHistory, event_time
from agent.record.label_runner import LabellerUnavailable, ProcessRunner, ThreadRunner
from agent.record.labelling import LabellingWorker, StepJob
from agent.record.merge import Semantic
from agent.screen import Frame
from agent.trajectory import TrajectoryWriter, read_trajectory
from tests.slow_label_recorder import SlowLabeller


def test_event_time_trusts_the_server_stamp_only_when_it_is_our_clock():
    assert event_time(int(1000.4 * 1000), 1000.5) == pytest.approx(1000.4, abs=0.002)
    uptime = 5_000_000.3  # > 49.7 days: the 32-bit millisecond stamp has wrapped
    assert event_time(int(5_000_000.2 * 1000) % 2 ** 32, uptime) == pytest.approx(5_000_000.2, abs=0.002)
    assert event_time(123, 1000.5) == 1000.5  # a remote display's clock: the receive time
    assert event_time(None, 7.0) == 7.0 and event_time(0, 7.0) == 7.0
    assert event_time(int(1000.5 * 1000) + 1, 1000.5) == pytest.approx(1000.5, abs=0.002)  # ms rounding


def frame(colour, t: float) -> Frame:
    return Frame(Image.new("RGB", (40, 30), colour), 0, 0, t)


def test_history_pins_the_newest_picture_captured_before_the_event_and_its_age():
    h = FrameHistory()
    for colour, t in (("red", 1.00), ("red", 1.05), ("blue", 1.10), ("blue", 1.15), ("green", 1.20)):
        h.add(frame(colour, t))
    assert h.captures == 5
    p = h.before(1.12)
    assert p.frame.image.getpixel((0, 0)) == (0, 0, 255) and p.seen_at == 1.10 and p.age == pytest.approx(0.02)
    p = h.before(1.09)  # red was last seen at 1.05
    assert p.frame.image.getpixel((0, 0)) == (255, 0, 0) and p.age == pytest.approx(0.04)
    p = h.before(1.17)  # blue still on screen at 1.15
    assert p.frame.image.getpixel((0, 0)) == (0, 0, 255) and p.age == pytest.approx(0.02)
    assert h.before(1.0) is None  # strictly before: a capture at the event's own time may show its effect
    assert h.capture_after(1.06) == 1.10 and h.capture_after(1.3) is None
    small = FrameHistory(keep=2)
    for colour, t in (("red", 1.0), ("blue", 1.1), ("green", 1.2)):
        small.add(frame(colour, t))
    assert small.before(1.05) is None  # red was forgotten: a changing screen is kept for `keep` pictures


def click(i: int, t: float) -> Semantic:
    return Semantic(Click(10 + i, 10), t, t + 0.05, (10 + i, 10))


def job(sem: Semantic, colour="white") -> StepJob:
    h = FrameHistory()
    h.add(frame(colour, sem.t0 - 0.03))
    return StepJob(sem, h.before(sem.t0), h.latest())


def worker(tmp_path, labeller, **kw) -> tuple[LabellingWorker, TrajectoryWriter]:
    w = TrajectoryWriter(tmp_path / "rec", kind="record")
    lw = LabellingWorker(w, runner=ThreadRunner(labeller) if labeller else None, t_start=0.0, **kw)
    lw.start()
    return lw, w


def test_a_failing_labeller_never_loses_a_step_and_steps_stay_in_order(tmp_path):
    calls = []

    def labeller(frame, point, kind, window):
        calls.append(kind)
        if len(calls) == 1:
            raise RuntimeError("OCR exploded")
        return {"text": "Save", "label": "Full name"}

    lw, w = worker(tmp_path, labeller)
    for sem in (click(0, 1.0), click(1, 2.0), Semantic(TypeText("Ann"), 3.0, 3.2), Semantic(KeyPress("tab"), 4.0, 4.0)):
        lw.submit(job(sem))
    assert lw.finish(10) == 0
    w.close({})
    steps = read_trajectory(tmp_path / "rec").steps
    assert [s["action"]["type"] for s in steps] == ["click", "click", "type", "press"]
    assert steps[0]["anchor"]["text"] is None and "OCR exploded" in steps[0]["anchor"]["label_error"]
    assert steps[0]["anchor"]["crop"] and steps[0]["screenshot"]  # the step is whole but for the text
    assert steps[1]["anchor"]["text"] == "Save" and steps[2]["var"] == "full_name"
    assert calls == ["click", "click", "type", "press"]  # no `kinds`: every step offered
    assert steps[1]["timings"]["frame_age_s"] == pytest.approx(0.03, abs=0.001)


def test_a_stuck_labeller_costs_labels_not_steps_and_the_queue_stays_short(tmp_path):
    release = threading.Event()

    def stuck(frame, point, kind, window):
        release.wait(30)
        return {"text": "late"}

    stuck.kinds = {"click"}
    lw, w = worker(tmp_path, stuck, backlog=2, budget_s=0.5)
    t0 = time.monotonic()
    for i in range(6):
        lw.submit(job(click(i, 1.0 + i)))
    assert lw.finish(20) == 0
    took = time.monotonic() - t0
    release.set()
    w.close({})
    steps = read_trajectory(tmp_path / "rec").steps
    assert [s["action"]["x"] for s in steps] == [10, 11, 12, 13, 14, 15]
    errors = [s["anchor"]["label_error"] for s in steps]
    assert all(e and e.startswith("skipped") for e in errors), errors
    assert any("behind" in e for e in errors) and any("took over" in e for e in errors)
    assert took < 6 * 0.5 + 3, took  # each step waited at most its budget
    assert lw.unlabelled == 6


def test_the_drain_deadline_writes_the_rest_without_labels(tmp_path):
    release = threading.Event()
    lw, w = worker(tmp_path, lambda *a: release.wait(30) and {})
    for i in range(3):
        lw.submit(job(click(i, 1.0 + i)))
    t0 = time.monotonic()
    assert lw.finish(0.3) == 0
    assert time.monotonic() - t0 < 5
    release.set()
    w.close({})
    steps = read_trajectory(tmp_path / "rec").steps
    assert len(steps) == 3 and all("stopping" in s["anchor"]["label_error"] for s in steps)


def test_secret_fields_stay_secret_when_the_label_could_not_be_read(tmp_path):
    def labeller(frame, point, kind, window):
        if point == (10, 10):
            raise RuntimeError("no OCR today")
        if kind == "type" and point is None:
            return {"label": "Password"} if frame.image.getpixel((0, 0)) == (0, 0, 0) else {}
        return {"label": "Password"}

    lw, w = worker(tmp_path, labeller, secret_fields={"password": "PW"})
    lw.submit(job(click(0, 1.0)))  # its label was not read ...
    lw.submit(job(Semantic(TypeText("hunter2"), 2.0, 2.5)))  # ... so this is kept secret, to be safe
    lw.submit(job(click(1, 3.0)))  # "Password"
    lw.submit(job(Semantic(TypeText("hunter3"), 4.0, 4.5)))
    lw.submit(job(Semantic(KeyPress("tab"), 5.0, 5.0)))
    lw.submit(job(Semantic(TypeText("hunter4"), 6.0, 6.5), colour="black"))  # the labeller names the field
    assert lw.finish(10) == 0
    w.close({})
    steps = read_trajectory(tmp_path / "rec").steps
    assert steps[1]["action"]["text"] == "{{secret:SECRET}}" and "not read" in steps[1]["secret_why"]
    assert steps[3]["action"]["text"] == "{{secret:PW}}" and "secret_why" not in steps[3]
    assert steps[5]["action"]["text"] == "{{secret:PW2}}"
    assert "hunter" not in (tmp_path / "rec" / "steps.jsonl").read_text()


def test_the_labeller_process_answers_reports_a_bad_factory_and_a_death():
    runner = ProcessRunner(functools.partial(SlowLabeller, 0.0, "/dev/null"))
    try:
        assert runner.kinds is None
        f = frame("white", 1.0)
        assert runner.submit(f, (5, 5), "click", None).result(timeout=30) == {"label": "slow-click"}
        runner._proc.kill()
        runner._proc.wait()
        with pytest.raises(LabellerUnavailable):
            runner.submit(f, (5, 5), "click", None).result(timeout=30)
    finally:
        runner.close()
    with pytest.raises(LabellerUnavailable, match="ZeroDivisionError"):
        ProcessRunner(functools.partial(divmod, 1, 0))


def test_a_write_failure_is_reported_and_counts_what_was_not_kept(tmp_path):
    lw, w = worker(tmp_path, None)
    lw.submit(job(click(0, 1.0)))
    assert lw.finish(10) == 0 and w.steps_written == 1
    w.close({})  # the trajectory can no longer be written (as with a full disk)
    lw2 = LabellingWorker(w, runner=None, t_start=0.0)
    lw2.start()
    for i in range(3):
        lw2.submit(job(click(i, 2.0 + i)))
    assert lw2.finish(10) == 3  # the first failed (the error), the other two were dropped
    assert "closed" in str(lw2.error)
    assert len(read_trajectory(tmp_path / "rec").steps) == 1
