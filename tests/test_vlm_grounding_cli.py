"""GLM-4.5V grounding through the CLI, end to end on Xvfb: ``agent fill --grounder vlm --no-elements``
(every target through the VLM, not the element model) and ``agent replay`` falling back to the VLM, both
against the local OpenAI-compatible fake server.

The fake answers every grounding request the way GLM-4.5V does — a box in thousandths of the image it
received, inside ``<|begin_of_box|>…<|end_of_box|>`` — computed from the app's *own* state file (widget
boxes in screen coordinates) and the element description in the prompt (``model.ground_vlm.PROMPT``).
So nothing but the VLM can have found the targets, and the app's store/state judges what landed.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from tests.conftest import HANG_S
from PIL import Image

from tasks.apps.form import TEXT_FIELDS, read_submissions
from tests.fake_openai import FakeOpenAI
from tasks.apps.state import read_state

pytestmark = pytest.mark.display

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "form"
SCREEN = (1280, 800)  # the xdisplay fixture's Xvfb
WHAT = re.compile(r"^Locate (.*) in this screenshot\. Answer with its bounding box", re.DOTALL)
QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def request_parts(body: dict) -> tuple[Image.Image | None, str]:
    """The image (decoded) and the prompt text of a chat request."""
    img, text = None, ""
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            text += content
            continue
        for p in content:
            if p.get("type") == "image_url":
                data = p["image_url"]["url"].split(",", 1)[1]
                img = Image.open(io.BytesIO(base64.b64decode(data)))
            elif p.get("type") == "text":
                text += p["text"]
    return img, text


def described(prompt: str) -> str:
    m = WHAT.match(prompt)
    assert m, f"unexpected grounding prompt: {prompt!r}"
    return m.group(1)


def glm_box(box: list[float], origin: tuple[float, float], size: tuple[int, int]) -> str:
    """A screen box [x, y, w, h] as GLM-4.5V answers it: thousandths of the image it was sent, whose
    top-left is ``origin`` on the screen (1 image px = 1 screen px on Xvfb)."""
    x, y, w, h = box
    ox, oy = origin
    iw, ih = size
    t = [round((x - ox) / iw * 1000), round((y - oy) / ih * 1000),
         round((x + w - ox) / iw * 1000), round((y + h - oy) / ih * 1000)]
    t = [min(999, max(0, v)) for v in t]
    return f"<|begin_of_box|>[{t[0]},{t[1]},{t[2]},{t[3]}]<|end_of_box|>"


# 1. agent fill --grounder vlm ---------------------------------------------------------------------
class FormOracle:
    """Answers grounding requests on the sample form from its ``--state`` file."""

    LABELS: ClassVar[dict[str, str]] = {label: key for key, label in (*TEXT_FIELDS, ("country", "Country"))}
    CHECKS: ClassVar[dict[str, str]] = {"Subscribe to newsletter": "newsletter", "I accept the terms": "terms"}

    def __init__(self, state: Path) -> None:
        self.state = state
        self.asked: list[str] = []

    def __call__(self, body: dict) -> str:
        img, prompt = request_parts(body)
        assert img is not None, "a grounding request without an image"
        what = described(prompt)
        self.asked.append(what)
        q = QUOTED.search(what)
        name = (q.group(1) if q.group(1) is not None else q.group(2)) if q else what
        s = json.loads(self.state.read_text())
        widgets, size = s["widgets"], img.size
        if size == SCREEN:
            origin = (0, 0)
        elif size[0] == SCREEN[0]:  # a region from a field's bottom to the screen's bottom (select)
            origin = (0, SCREEN[1] - size[1])
        else:  # a region as small as a widget: "does the field show the chosen option?"
            return glm_box([0, 0, *size], (0, 0), size) if s["values"]["country"] == name else "NOT_FOUND"
        if what.startswith("the text input field labelled") and name in self.LABELS:
            return glm_box(widgets[self.LABELS[name]], origin, size)
        if name in self.CHECKS:  # the caption of the tick box, right of its indicator (as OCR boxes it)
            x, y, w, h = widgets[self.CHECKS[name]]
            return glm_box([x + 24, y + 3, w - 26, h - 6], origin, size)
        if name in ("Save", "Clear"):
            return glm_box(widgets[name.lower()], origin, size)
        if f"option:{name}" in widgets:
            return glm_box(widgets[f"option:{name}"], origin, size)
        if name.startswith("Saved:") and s["status"].startswith(name):
            return glm_box(s["window"], origin, size)
        return "NOT_FOUND"


def test_fill_grounds_every_step_through_glm45v(xdisplay, spawn_window, tmp_path):
    from tasks.apps.form import TITLE

    db, state = tmp_path / "form.sqlite", tmp_path / "form.json"
    spawn_window([sys.executable, "-m", "tasks.apps.form", "--db", str(db), "--state", str(state)], title=TITLE)
    read_state(state, lambda s: s["widgets"]["save"][2] > 1 and s["window"][0] > 0)
    rows = list(csv.DictReader((EXAMPLE / "people.csv").open()))[:2]
    data = tmp_path / "rows.csv"
    with data.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    oracle = FormOracle(state)
    out = tmp_path / "run"
    env = {k: v for k, v in xdisplay.env.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    with FakeOpenAI(answers=oracle) as fake:
        r = subprocess.run([sys.executable, "-m", "agent", "fill", str(EXAMPLE / "fill.yaml"), "--data", str(data),
                            "--out", str(out), "--grounder", "vlm", "--no-elements", "--model-url", fake.url, "--model", "glm-4.5v",
                            "--no-kill-hotkey", "--settle-ms", "70"],
                           capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=HANG_S, cwd=ROOT, check=False)
        requests = [q for q in fake.requests if q["path"] == "/v1/chat/completions"]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "vlm:" in r.stdout  # the grounder named in the banner is the VLM

    stored = read_submissions(db)
    assert len(stored) == 2
    yes = {"yes": 1, "no": 0}
    for want, got in zip(rows, stored):
        for k in ("first_name", "last_name", "email", "phone", "birth_date", "country"):
            assert got[k] == want[k], (k, got[k], want[k])
        assert got["newsletter"] == yes[want["newsletter"]]
        assert got["terms"] == yes[want["terms"]]

    results = json.loads((out / "results.json").read_text())
    assert [x["status"] for x in results["rows"]] == ["ok", "ok"]
    # grounding really went through the VLM: image requests for every kind of target
    assert requests and all(request_parts(q["body"])[0] is not None for q in requests)
    asked = " | ".join(oracle.asked)
    for label in ("First name", "Last name", "Email", "Phone", "Date of birth", "Country"):
        assert f"the text input field labelled {label!r}" in asked
    for text in ("Save", "I accept the terms", rows[0]["country"], f"Saved: {rows[1]['first_name']} {rows[1]['last_name']}"):
        assert f"the UI element showing the text {text!r}" in asked
    steps = [json.loads(line) for line in (out / "trajectory" / "steps.jsonl").read_text().splitlines()]
    methods = {s["match"]["method"] for s in steps if s.get("match")}
    assert methods and all(m.startswith("vlm:") for m in methods), methods


# 2. agent replay, the VLM as the fallback -----------------------------------------------------------
def test_replay_falls_back_to_glm45v_when_the_crop_no_longer_matches(xdisplay, spawn_window, tmp_path):
    from agent.screen import Screen, encode
    from agent.trajectory import TrajectoryWriter, read_trajectory
    from tasks.apps.widgets import TITLE

    st = tmp_path / "w.json"
    app = spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(st),
                        "--geometry", "480x240+100+80"], title=TITLE)
    s = read_state(st, lambda s: s["widgets"]["button"][2] > 1)
    bx, by, bw, bh = s["widgets"]["button"]
    point = (bx + bw // 2, by + bh // 2)
    # a recording of one click on "Click me", as agent.record.recorder writes it (OCR anchor text included) —
    # but its crop and screenshot no longer look like the target: the template match must fail
    with Screen(xdisplay.display) as screen:
        frame = screen.capture()
    rec = tmp_path / "rec"
    writer = TrajectoryWriter(rec, kind="record", meta={"screen": list(SCREEN)})
    noise = Image.effect_noise((frame.width, frame.height), 90).convert("RGB")
    crop = Image.effect_noise((200, 100), 90).convert("RGB")
    writer.append({
        "action": {"type": "click", "x": point[0], "y": point[1]},
        "ok": True, "thought": None,
        "screenshot": writer.add_image(encode(noise), step=0, label="before", ext="png"),
        "screen_area": [frame.left, frame.top, frame.width, frame.height],
        "image_size": [frame.width, frame.height],
        "anchor": {"point": list(point), "crop": writer.add_image(encode(crop), step=0, label="crop", ext="png"),
                   "offset": [100.0, 50.0], "text": "Click me", "text_offset": [0.0, 0.0],
                   "window": {"title": TITLE, "box": s["window"],
                              "rel": [point[0] - s["window"][0], point[1] - s["window"][1]]}},
        "timings": {"person_s": 0.5, "duration_s": 0.05}, "t_rel": 0.5,
    })
    writer.close({"steps": 1})
    app.kill()
    app.wait()
    # the app again, elsewhere on the screen
    st2 = tmp_path / "w2.json"
    spawn_window([sys.executable, "-m", "tasks.apps.widgets", "--state", str(st2),
                  "--geometry", "520x260+600+400"], title=TITLE)
    read_state(st2, lambda s: s["widgets"]["button"][0] > 600)

    asked: list[str] = []

    def answer(body: dict) -> str:
        img, prompt = request_parts(body)
        assert img is not None and img.size == SCREEN
        what = described(prompt)
        asked.append(what)
        w = json.loads(st2.read_text())["widgets"]
        return glm_box(w["button"], (0, 0), img.size) if "Click me" in what else "NOT_FOUND"

    env = {k: v for k, v in xdisplay.env.items() if not k.startswith("AGENT_")}
    env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
    with FakeOpenAI(answers=answer) as fake:
        r = subprocess.run([sys.executable, "-m", "agent", "replay", str(rec), "--out", str(tmp_path / "replay"),
                            "--no-ocr", "--find-timeout", "3", "--model-url", fake.url, "--model", "glm-4.5v",
                            "--no-kill-hotkey"],
                           capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=HANG_S, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    after = read_state(st2, lambda s: s["clicks"] == 1)
    assert after["events"] == ["click"]
    assert asked and all(a == "the UI element showing the text 'Click me'" for a in asked), asked
    step = read_trajectory(tmp_path / "replay").steps[0]
    assert step["grounding"]["method"].startswith("vlm:"), step
    bx, by, bw, bh = after["widgets"]["button"]
    a = step["action"]
    assert bx <= a["x"] <= bx + bw and by <= a["y"] <= by + bh
