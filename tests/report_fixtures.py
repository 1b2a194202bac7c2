"""Trajectories for the report tests, written with the real ``TrajectoryWriter`` as the agent's
commands write them: a model run (parse error, risky approval, safety stop), a replay with a healed
and a failed step, an eval task with its ``result.json``. Screenshots are drawn with PIL: a window
with a title bar and a few labelled buttons, different per step, so before/after differ."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageDraw

from agent.trajectory import TrajectoryWriter

CANARY_ENV = "DESK_REPORT_CANARY"
CANARY = "Canary-Report-4417-x"  # '-' is not in the base64 alphabet: it cannot hide inside an image URI
W, H = 1280, 800
AREA = [0, 0, W, H]


def screen(n: int, label: str, *, error: bool = False) -> bytes:
    """A PNG 'screenshot': a window titled ``label``; step ``n`` moves a highlight box."""
    img = Image.new("RGB", (W, H), (228, 232, 240))
    d = ImageDraw.Draw(img)
    d.rectangle((100, 80, 1100, 700), fill=(255, 255, 255), outline=(90, 90, 110), width=2)
    d.rectangle((100, 80, 1100, 120), fill=(60, 80, 140) if not error else (170, 40, 40))
    d.text((120, 92), label, fill=(255, 255, 255))
    for i, name in enumerate(("From", "To", "Search", "Pay")):
        y = 170 + i * 90
        d.rectangle((200, y, 520, y + 50), fill=(240, 240, 246), outline=(120, 120, 140))
        d.text((215, y + 18), name, fill=(20, 20, 30))
    d.rectangle((600, 160 + n * 40, 1000, 190 + n * 40), fill=(255, 210, 120))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _shot(w: TrajectoryWriter, label: str, *, error: bool = False, tag: str = "before") -> str:
    n = w.steps_written
    return w.add_image(screen(n, label, error=error), step=n, label=tag, ext="png")


def _base(w: TrajectoryWriter, label: str) -> dict:
    return {"screenshot": _shot(w, label), "screen_area": AREA, "image_size": [W, H],
            "timings": {"capture_s": 0.021, "encode_s": 0.012, "execute_s": 0.043, "settle_s": 0.31}, "settled": True}


def model_run(folder: Path) -> Path:
    """``agent run``: a click, a parse error, a typed secret, an approved risky Pay, a refused one."""
    w = TrajectoryWriter(folder, kind="run", meta={"goal": "Book a ticket from Oslo to Bergen", "screen": [W, H],
                                                   "model": "glm-4.5v @ http://127.0.0.1:9/v1"})
    info = {"model_s": 2.345, "prompt_s": 0.05, "prompt_tokens": 1812, "completion_tokens": 143}
    w.append({**_base(w, "Booking - search"), "action": {"type": "click", "x": 360.4, "y": 195.2, "target": "From"},
              "ok": True, "thought": "The From field is empty; click it first.",
              "evidence": [["pointer", "From"], ["ocr", "From"]],
              "model_output": "<think>I see the booking form. " + "The From field is on the left. " * 30
                              + "</think>\nAction: click(start_box='(281,244)')\nMemory: on the search form",
              "memory": "on the search form", "action_text": "click(start_box='(281,244)')",
              "model": info, "feedback_given": None,
              "element": {"role": "entry", "name": "From", "box": [200, 170, 320, 50], "source": "atspi"}})
    w.append({"parse_error": "no Action: line in the answer", "ok": False,
              "model_output": "I think I should probably click somewhere near the top", **info})
    w.append({**_base(w, "Booking - passenger"), "action": {"type": "type", "text": "{{secret:%s}}" % CANARY_ENV},
              "ok": True, "thought": f"Type the card number {CANARY} into the card field.",
              "evidence": [["focused", "Card number"]], "model": info, "action_text": "type(content='***')",
              "model_output": f"Action: type(content='{CANARY}')", "feedback_given": "Your last answer could not be used"})
    w.append({**_base(w, "Booking - pay"), "action": {"type": "click", "x": 360, "y": 465, "target": "Pay"},
              "ok": True, "approved_risky": "the screen at the click reads 'Pay' (risky word 'pay')",
              "evidence": [["pointer", "Pay"], ["ocr", "Pay 129 NOK"], ["thought", "pay for the ticket"]],
              "thought": "Pay for the ticket.", "model": info, "action_text": "click(start_box='(281,581)')",
              "model_output": "Action: click(start_box='(281,581)')"})
    w.append({**_base(w, "Booking - confirm"), "action": {"type": "click", "x": 360, "y": 465, "target": "Pay"},
              "ok": False, "thought": "Pay again to be sure.",
              "safety_stop": "not approved: the screen at the click reads 'Pay' (risky word 'pay')",
              "model": info, "model_output": "Action: click(start_box='(281,581)')"})
    w.close({"status": "stopped", "reason": "not approved: the screen at the click reads 'Pay'", "answer": None,
             "steps": 4, "model_calls": 5, "prompt_tokens": 9060, "completion_tokens": 715, "elapsed_s": 14.2,
             "ok": False})
    return folder


def replay_run(folder: Path) -> Path:
    """``agent replay``: two template matches, one healed by OCR, then a target not found."""
    w = TrajectoryWriter(folder, kind="replay", meta={"replay_of": "runs/rec-booking", "screen": [W, H]})
    for i, (name, g) in enumerate((("From", {"method": "template", "crop": "crop", "score": 0.991, "tries": 1}),
                                   ("To", {"method": "template", "crop": "crop", "score": 0.97, "tries": 2}),
                                   ("Search", {"method": "ocr", "score": 0.9, "tries": 3}))):
        w.append({**_base(w, f"Booking {name}"), "action": {"type": "click", "x": 360, "y": 195 + 90 * i, "target": name},
                  "ok": True, "evidence": [["pointer", name]], "replay_of": i, "grounding": g})
    failed = _shot(w, "Booking - results", error=True, tag="notfound")
    w.append({"action": {"type": "click", "x": 700, "y": 600, "target": "Continue"}, "ok": False, "replay_of": 3,
              "error": "target not found after 12 tries: crop: the crop is not on the screen; ocr: no text 'Continue'",
              "screenshot": failed})
    w.close({"ok": False, "steps_done": 3, "elapsed_s": 9.1, "failed_at": 3,
             "reason": "target not found after 12 tries", "screenshot": str(folder / failed)})
    return folder


def eval_task(out: Path, *, ok: bool, key: str = "booking.book_ticket-s0") -> Path:
    """What ``tasks.worker`` leaves: ``out/trajectory`` (kind eval) and ``out/result.json``."""
    folder = out / "trajectory"
    w = TrajectoryWriter(folder, kind="eval", meta={"goal": "Book a seat from Oslo to Bergen on May 3",
                                                    "task": key.rsplit("-s", 1)[0], "seed": 0, "policy": "oracle"})
    for name in ("From", "To", "Search", "Pay"):
        extra = {"approved_risky": "risky word 'pay'"} if name == "Pay" else {}
        w.append({**_base(w, f"Booking {name}"), "action": {"type": "click", "x": 360, "y": 195, "target": name},
                  "ok": True, "thought": f"click {name}", "evidence": [["pointer", name]], **extra})
    w.append({**_base(w, "Booking done"), "action": {"type": "done", "answer": "booked"}, "ok": True})
    checks = [{"ok": True, "what": "ending is done", "detail": "the agent ended with 'done'"},
              {"ok": ok, "what": "a booking Oslo → Bergen exists", "detail": "1 row" if ok else "0 rows in bookings"}]
    w.close({"ok": ok, "ending": "done", "checks": checks})
    result = {"task": key.rsplit("-s", 1)[0], "seed": 0, "key": key, "goal": "Book a seat from Oslo to Bergen on May 3",
              "policy": "oracle", "ending": "done", "success": ok, "checks": checks, "steps": 5, "episode_s": 6.5,
              "elapsed_s": 8.25, "time_per_step_s": 1.3, "trajectory": str(folder), "approvals": ["risky word 'pay'"]}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return folder
