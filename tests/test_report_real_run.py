"""``agent report`` on a real ``agent do`` run on Xvfb, opened in headless Chromium.

The run types a real secret into the pay test app's card field, clicks "Pay" (approved with --yes,
so the gate's evidence is what the live screen showed) and then clicks outside the screen (an
error). The report must show the four steps, the error first, the approval with its evidence, the
click marked where it landed, and never the secret.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import HANG_S

from tasks.apps.state import read_state
from tests.browser import chromium
from tests.test_report_html import _filter, _keep, _open, _shown, _wait

pytestmark = pytest.mark.display
SECRET_ENV, SECRET = "DESK_REPORT_CARD", "Canary-Card-5599-0042"


@pytest.fixture
def pay_app(xdisplay, tmp_path):
    state, payments = tmp_path / "pay.json", tmp_path / "payments.txt"
    payments.write_text("")
    proc = subprocess.Popen([sys.executable, "-m", "tests.pay_app", "--state", str(state), "--payments",
                             str(payments), "--geometry", "460x300+100+80"], env=xdisplay.env, stdin=subprocess.DEVNULL)
    s = read_state(state, lambda s: s["widgets"]["pay"][2] > 1 and s["widgets"]["pay"][0] > 0, timeout=30)
    time.sleep(0.3)  # the first expose
    yield s["widgets"], payments
    proc.kill()
    proc.wait(timeout=5)


def _centre(box) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2


def test_report_of_a_real_agent_do_run(xdisplay, pay_app, tmp_path):
    widgets, payments = pay_app
    (cx, cy), (px, py) = _centre(widgets["card"]), _centre(widgets["pay"])
    env = {**xdisplay.env, SECRET_ENV: SECRET}
    actions = [{"type": "click", "x": cx, "y": cy}, {"type": "type", "text": "{{secret:%s}}" % SECRET_ENV},
               {"type": "click", "x": px, "y": py}, {"type": "click", "x": 5000, "y": 10}]
    out = tmp_path / "do"
    r = subprocess.run([sys.executable, "-m", "agent", "do", *map(json.dumps, actions), "--yes", "--no-kill-hotkey",
                        "--out", str(out)], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=HANG_S)
    assert r.returncode == 1, r.stdout + r.stderr
    assert payments.read_text().count("paid") == 1  # the approved Pay really happened
    r = subprocess.run([sys.executable, "-m", "agent", "report", str(out)], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=HANG_S)
    assert r.returncode == 0, r.stdout + r.stderr
    page = tmp_path / "do-report.html"
    assert f"report: {page}" in r.stdout
    html = page.read_text(encoding="utf-8")
    assert SECRET not in html and SECRET not in (out / "steps.jsonl").read_text()
    with chromium() as d:
        _open(d, page)
        assert d.find_element("id", "verdict").text.lower() == "failed"
        assert _shown(d, "#index a.tl") == ["tl-0", "tl-1", "tl-2", "tl-3"]
        banner = d.find_element("id", "first-error").text
        assert "step #3" in banner and "click at (5000, 10)" in banner and "outside the screen" in banner
        _filter(d, "risky")
        assert _shown(d, "details.step") == ["step-2"]
        s2 = d.find_element("id", "step-2")
        assert "approved as risky" in s2.text and "Pay" in s2.find_element("css selector", "table.evidence").text
        _filter(d, "all")
        s0 = d.find_element("id", "step-0")
        assert f"click at ({cx}, {cy})" in s0.find_element("tag name", "summary").text
        style = s0.find_element("css selector", ".mark").get_dom_attribute("style")
        assert style == f"left:{cx / 1280 * 100:.2f}%;top:{cy / 800 * 100:.2f}%"
        _wait(d, "const i = document.querySelector('#step-0 img.before'); return i.complete && i.naturalWidth === 1280")
        _wait(d, "const i = document.querySelector('#step-0 img.after'); return i.complete && i.naturalWidth === 1280")
        assert 'type "***"' in d.find_element("id", "step-1").text
        s3 = d.find_element("id", "step-3")
        assert "outside this screenshot" in s3.text and not s3.find_elements("css selector", ".mark")
        assert d.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert "capture" in s0.find_element("css selector", ".timings").text
        assert SECRET not in d.find_element("tag name", "body").get_attribute("textContent")
        _keep(d, "agent-do-report.png")
