"""The risky-action gate judges what is really under the pointer (issue: trust holes, item 1).

A Tk window and a Chromium page, each with a "Pay €12.00" button that records a payment. Clicks with
no target text, with vague text ("green button"), from a model that gives no ``element_info``, from
a recording made with ``--no-ocr``, and from a fill script that names the button by an image crop: no
payment without approval (no terminal: the answer is no, exit 3), exactly one with ``--yes``. Clicks
next to Pay (the card entry above it, "Continue to payment") are not asked about.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.trajectory import read_trajectory
from tasks.apps.state import read_state
from tests.fake_openai import FakeOpenAI
from tests.test_record_replay import Person, replay, start_recorder

pytestmark = pytest.mark.display
SCREEN = (1280, 800)


def agent(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def centre(box) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2


def click_json(x: int, y: int, **extra) -> str:
    return json.dumps({"type": "click", "x": x, "y": y, **extra})


@pytest.fixture
def pay_tk(xdisplay, tmp_path):
    state, payments = tmp_path / "pay.json", tmp_path / "payments.txt"
    payments.write_text("")
    proc = subprocess.Popen([sys.executable, "-m", "tests.pay_app", "--state", str(state), "--payments",
                             str(payments), "--geometry", "460x300+100+80"], env=xdisplay.env, stdin=subprocess.DEVNULL)
    s = read_state(state, lambda s: s["widgets"]["pay"][2] > 1 and s["widgets"]["pay"][0] > 0, timeout=20)
    time.sleep(0.3)  # the first expose
    yield s["widgets"], (lambda: payments.read_text().count("paid")), state
    proc.kill()
    proc.wait(timeout=5)


def test_a_click_on_pay_is_asked_about_whatever_the_click_says(xdisplay, pay_tk, tmp_path):
    w, paid, _ = pay_tk
    x, y = centre(w["pay"])
    for extra in ({}, {"target": "green button"}):
        r = agent(xdisplay.env, "do", click_json(x, y, **extra), "--no-kill-hotkey", "--out", str(tmp_path / f"t{len(extra)}"))
        assert r.returncode == 3, r.stdout + r.stderr
        assert "not approved" in r.stderr and "Pay" in r.stderr
        assert paid() == 0
    steps = read_trajectory(tmp_path / "t1").steps
    assert steps[-1]["safety_stop"] and "under the pointer" in steps[-1]["safety_stop"]
    r = agent(xdisplay.env, "do", click_json(x, y), "--yes", "--no-kill-hotkey")
    assert r.returncode == 0, r.stdout + r.stderr
    assert read_state(pay_tk[2], lambda s: s["paid"] == 1)["paid"] == 1 and paid() == 1


def test_clicks_beside_pay_are_not_asked_about(xdisplay, pay_tk):
    w, paid, state = pay_tk
    for key in ("card", "continue"):
        r = agent(xdisplay.env, "do", click_json(*centre(w[key])), "--no-kill-hotkey")
        assert r.returncode == 0, (key, r.stdout + r.stderr)
    assert read_state(state, lambda s: s["message"] == "continued")["message"] == "continued"
    assert paid() == 0


def _thousandths(box) -> str:
    x, y = centre(box)
    return f"[{round(x / SCREEN[0] * 1000)},{round(y / SCREEN[1] * 1000)}]"


@pytest.mark.parametrize("info", ["", ", element_info='green button'"])
def test_a_model_click_without_element_info_is_stopped(xdisplay, pay_tk, tmp_path, info):
    w, paid, _ = pay_tk
    answer = (f"<think>The button is there.</think>I click it.\n<|begin_of_box|>left_click(start_box='"
              f"{_thousandths(w['pay'])}'{info})<|end_of_box|>\nMemory:\n[]")
    done = "All set.\n<|begin_of_box|>DONE()<|end_of_box|>\nMemory:\n[]"
    with FakeOpenAI([answer, done]) as srv:
        out = tmp_path / "run"
        r = agent(xdisplay.env, "run", "finish the purchase", "--model-url", srv.url, "--no-kill-hotkey", "--out", str(out))
        assert r.returncode == 3, r.stdout + r.stderr
        assert paid() == 0
        t = read_trajectory(out)
        assert t.sealed and "Pay" in t.steps[-1]["safety_stop"]
    with FakeOpenAI([answer, done]) as srv:
        r = agent(xdisplay.env, "run", "finish the purchase", "--model-url", srv.url, "--no-kill-hotkey", "--yes",
                  "--out", str(tmp_path / "run-yes"))
        assert r.returncode == 0, r.stdout + r.stderr
        assert paid() == 1


def test_replaying_a_no_ocr_recording_asks_before_paying(xdisplay, pay_tk, tmp_path):
    w, paid, _ = pay_tk
    rec = tmp_path / "rec"
    recorder, log = start_recorder(xdisplay.env, rec, "--no-ocr")
    try:
        p = Person(xdisplay.env)
        p.click(w["card"])
        p.type("4111")
        p.click(w["pay"])  # the person pays, once
        p.do("key", "ctrl+alt+s")
        recorder.wait(timeout=30)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert paid() == 1
    r = replay(xdisplay.env, rec, tmp_path / "replay", "--no-kill-hotkey", "--no-ocr")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "not approved" in r.stdout + r.stderr and paid() == 1
    p.click(w["card"])  # empty the card field again, as it was when the person started
    p.do("key", "End", "shift+Home", "BackSpace")
    r = replay(xdisplay.env, rec, tmp_path / "replay-yes", "--no-kill-hotkey", "--no-ocr", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert paid() == 2


def test_a_fill_script_naming_pay_by_an_image_asks(xdisplay, pay_tk, tmp_path):
    from PIL import Image

    from agent.screen import Screen

    w, paid, _ = pay_tk
    x, y, bw, bh = w["pay"]
    with Screen(xdisplay.display) as s:
        s.capture().image.crop((x, y, x + bw, y + bh)).save(tmp_path / "button.png")
    assert Image.open(tmp_path / "button.png").size == (bw, bh)
    (tmp_path / "fill.yaml").write_text("steps:\n  - click: {image: button.png}\n")
    (tmp_path / "rows.csv").write_text("n\n1\n")
    r = agent(xdisplay.env, "fill", str(tmp_path / "fill.yaml"), "--data", str(tmp_path / "rows.csv"),
              "--no-kill-hotkey", "--out", str(tmp_path / "f1"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert paid() == 0
    r = agent(xdisplay.env, "fill", str(tmp_path / "fill.yaml"), "--data", str(tmp_path / "rows.csv"),
              "--no-kill-hotkey", "--yes", "--out", str(tmp_path / "f2"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert paid() == 1


PAGE = """<!doctype html><html><head><title>Checkout</title></head>
<body style="font: 16px sans-serif; margin: 24px">
<h1>Checkout</h1>
<p><label for="card">Card number</label> <input id="card" style="font-size: 16px"></p>
<p><button id="pay" style="font-size: 18px; padding: 8px 20px; background: #2e7d32; color: white; border: 0">
Pay &euro;12.00</button>
<button id="back" style="font-size: 18px; padding: 8px 20px">Continue to payment</button></p>
<script>
function box(id) { const r = document.getElementById(id).getBoundingClientRect();
  return [screenX + r.left, screenY + (outerHeight - innerHeight) + r.top, r.width, r.height]; }
window.onload = () => setTimeout(() => fetch('/boxes', {method: 'POST',
  body: JSON.stringify({pay: box('pay'), back: box('back')})}), 300);
document.getElementById('pay').onclick = () => fetch('/pay', {method: 'POST'});
</script></body></html>"""


@pytest.fixture
def pay_web(a11y_display):
    got: dict[str, list[bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(PAGE.encode())

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.setdefault(self.path, []).append(body)
            self.send_response(204)
            self.end_headers()

    from agent.desktop.browser import launch_chromium

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    browser = launch_chromium(f"http://127.0.0.1:{srv.server_address[1]}/", size=(760, 420), position=(60, 60),
                              env=a11y_display.env, ready=lambda: "/boxes" in got)
    try:
        yield json.loads(got["/boxes"][0]), (lambda: len(got.get("/pay", [])))
    finally:
        browser.stop()
        srv.shutdown()


def test_a_click_on_a_web_pay_button_is_asked_about(a11y_display, pay_web, tmp_path):
    boxes, paid = pay_web
    env = a11y_display.env
    x, y = (round(v) for v in centre(boxes["pay"]))
    r = agent(env, "do", click_json(x, y, target="the green one"), "--no-kill-hotkey")
    assert r.returncode == 3, r.stdout + r.stderr
    # the accessibility tree names the button under the pointer; the drawn caption is read too
    assert "element under the pointer (button) reads 'Pay €12.00'" in r.stderr, r.stderr
    time.sleep(0.5)
    assert paid() == 0
    r = agent(env, "do", click_json(*(round(v) for v in centre(boxes["back"]))), "--no-kill-hotkey")
    assert r.returncode == 0, r.stdout + r.stderr
    r = agent(env, "do", click_json(x, y), "--yes", "--no-kill-hotkey")
    assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.monotonic() + 10
    while paid() < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paid() == 1


def test_a_model_click_on_the_web_pay_button_without_element_info_is_stopped(a11y_display, pay_web, tmp_path):
    boxes, paid = pay_web
    answer = (f"I click it.\n<|begin_of_box|>left_click(start_box='{_thousandths(boxes['pay'])}')<|end_of_box|>\n"
              "Memory:\n[]")
    with FakeOpenAI([answer]) as srv:
        out = tmp_path / "run"
        r = agent(a11y_display.env, "run", "pay", "--model-url", srv.url, "--no-kill-hotkey", "--out", str(out))
    assert r.returncode == 3, r.stdout + r.stderr
    stop = read_trajectory(out).steps[-1]["safety_stop"]
    assert "(button) reads 'Pay €12.00'" in stop, stop
    time.sleep(0.5)
    assert paid() == 0
