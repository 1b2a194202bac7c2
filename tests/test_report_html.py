"""The trajectory and eval reports as a person sees them: opened in headless Chromium (selenium).

Trajectories are written with the real ``TrajectoryWriter`` (tests/report_fixtures.py): a model run
with a parse error, a risky approval and a safety stop; a replay with a healed and a failed step; eval
tasks with their ``result.json``. The page must index every step, filter (errors / risky / healed),
put the first error first and link it, and show each step's action, element, gate evidence and model
output; a canary secret must never reach the HTML. ``DESK_KEEP_SCREENS=DIR`` keeps the page
screenshots there (for a person to look at).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.trajectory.report import write_report
from tasks.eval_report import eval_html
from tasks.harness import summarize
from tests import report_fixtures as fx
from tests.browser import chromium


def _wait(driver, script: str, timeout: float = 20.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script))


def _open(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    _wait(driver, "return document.body.dataset.ready === '1'")


def _shown(driver, css: str) -> list[str]:
    """Ids of the elements matching ``css`` that are displayed now."""
    return [e.get_attribute("id") for e in driver.find_elements("css selector", css) if e.is_displayed()]


def _filter(driver, name: str) -> None:
    driver.find_element("css selector", f".filters button[data-filter='{name}']").click()


def _keep(driver, name: str) -> None:
    folder = os.environ.get("DESK_KEEP_SCREENS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(max(height, 900), 6000))
        driver.save_screenshot(str(Path(folder) / name))
        driver.set_window_size(1400, 1000)


@pytest.fixture
def canary(monkeypatch):
    monkeypatch.setenv(fx.CANARY_ENV, fx.CANARY)
    return fx.CANARY


def test_run_report_index_filters_first_error_and_details(tmp_path, canary):
    page = write_report(fx.model_run(tmp_path / "run"))
    html = page.read_text(encoding="utf-8")
    assert canary not in html and "{{secret" not in html
    assert "http://" not in html.replace("http://127.0.0.1:9/v1", "")  # nothing fetched from anywhere
    with chromium() as d:
        _open(d, page)
        assert d.find_element("id", "verdict").text.lower() == "stopped"
        totals = d.find_element("id", "totals").text
        assert "5\nmodel calls" in totals and "9,775\ntokens" in totals and "1\nrisky approved" in totals
        # the index: one entry per step, each with a thumbnail where the step has a screenshot
        assert _shown(d, "#index a.tl") == [f"tl-{i}" for i in range(5)]
        assert len(d.find_elements("css selector", "#index a.tl img[src^='data:image/jpeg']")) == 4
        # the first error (the parse error, step #1) is named at the top and its link opens that step
        banner = d.find_element("id", "first-error")
        assert "step #1" in banner.text and "no Action: line" in banner.text
        assert "first" in d.find_element("id", "tl-1").get_attribute("class")
        d.find_element("id", "step-0").find_element("tag name", "summary").click()  # close one, to see it reopen
        banner.find_element("tag name", "a").click()
        assert d.find_element("id", "step-1").get_attribute("open") is not None
        # filters hide and show steps, in the index and in the log
        _filter(d, "error")
        assert _shown(d, "details.step") == ["step-1", "step-4"] and _shown(d, "#index a.tl") == ["tl-1", "tl-4"]
        _filter(d, "risky")
        assert _shown(d, "details.step") == ["step-3", "step-4"]
        assert d.find_element("css selector", "button[data-filter='healed']").get_attribute("disabled")
        d.find_element("id", "first-error").find_element("tag name", "a").click()  # a jump shows all again
        assert len(_shown(d, "details.step")) == 5 and "on" in \
            d.find_element("css selector", "button[data-filter='all']").get_attribute("class")
        # step 0: action in words, the element, what the gate read, the model's side, a marked screenshot
        s0 = d.find_element("id", "step-0")
        if s0.get_attribute("open") is None:
            s0.find_element("tag name", "summary").click()
        assert 'click "From" at (360, 195)' in s0.find_element("css selector", "summary").text
        assert "role entry, name From" in s0.text and "source atspi" in s0.text
        assert "nothing risky; it read pointer “From”" in s0.find_element("css selector", ".gate-read").text
        out = s0.find_element("css selector", "pre.model-output").get_attribute("textContent")
        assert "Action: click(start_box='(281,244)')" in out and "<think>" in out
        assert "1,812 prompt + 143 completion" in s0.text and "2.35 s" in s0.text
        _wait(d, "const i = document.querySelector('#step-0 img.before'); return i.complete && i.naturalWidth === 1280")
        assert s0.find_element("css selector", ".mark").get_dom_attribute("style") == "left:28.16%;top:24.40%"
        box = s0.find_element("css selector", ".box").get_dom_attribute("style")  # [200, 170, 320, 50] on 1280x800
        assert "top:21.25%;width:25.00%;height:6.25%" in box
        # step 3: the approval and every piece of evidence; step 4: the safety stop, refused
        s3 = d.find_element("id", "step-3")
        assert "approved as risky: the screen at the click reads 'Pay'" in s3.get_attribute("textContent")
        cells = [c.get_attribute("textContent") for c in s3.find_elements("css selector", "table.evidence td")]
        assert cells == ["pointer", "Pay", "ocr", "Pay 129 NOK", "thought", "pay for the ticket"]
        s4 = d.find_element("id", "step-4").get_attribute("textContent")
        assert "safety stop: not approved" in s4
        # the secret step: masked, with a note; the canary is nowhere in the page's text
        s2 = d.find_element("id", "step-2").get_attribute("textContent")
        assert 'type "***"' in s2 and "secret masked" in s2
        assert fx.CANARY_ENV in d.find_element("id", "secrets-note").text
        assert canary not in d.find_element("tag name", "body").get_attribute("textContent")
        # the full image opens on click
        d.find_element("css selector", "#step-0 .frame").click()
        _wait(d, "return !document.getElementById('lightbox').hidden")
        assert d.execute_script("return document.querySelector('#lightbox img').src.startsWith('data:image/jpeg')")
        d.find_element("id", "lightbox").click()
        _keep(d, "run-report.png")


def test_replay_report_healed_and_failed_step(tmp_path):
    page = write_report(fx.replay_run(tmp_path / "replay"))
    with chromium() as d:
        _open(d, page)
        assert d.find_element("id", "verdict").text.lower() == "failed"
        assert "step 3: target not found" in d.find_element("css selector", "header.top").text
        banner = d.find_element("id", "first-error").text
        assert "step #3" in banner and 'click "Continue" at (700, 600)' in banner
        _filter(d, "healed")
        assert _shown(d, "details.step") == ["step-2"]
        assert "method ocr, score 0.9, tries 3" in d.find_element("id", "step-2").text
        _filter(d, "error")
        assert _shown(d, "details.step") == ["step-3"]
        s3 = d.find_element("id", "step-3")
        assert s3.get_attribute("open") is not None  # failed steps are open from the start
        assert "the screen when it failed" in s3.text and not s3.find_elements("css selector", ".mark")
        assert "replay of recorded step 3" in s3.text
        _wait(d, "const i = document.querySelector('#step-3 img.before'); return i.complete && i.naturalWidth > 0")
        # the after of a step is the next step's screen
        _filter(d, "all")
        s0 = d.find_element("id", "step-0")
        assert d.execute_script("return document.querySelector('#step-0 img.after').dataset.img") == \
            d.execute_script("return document.querySelector('#step-1 img.before').dataset.img")
        assert "after (the next step's screen)" in s0.text


def _eval_run(out: Path) -> tuple[list[dict], Path]:
    results = []
    for key, ok in (("booking.book_ticket-s0", True), ("booking.book_ticket-s1", False), ("editor.save_file-s0", True)):
        fx.eval_task(out / "tasks" / key, ok=ok, key=key)
        results.append(json.loads((out / "tasks" / key / "result.json").read_text()))
    results.append({"task": "widgets.slider", "seed": 0, "key": "widgets.slider-s0", "success": False,
                    "ending": "error", "error": f"worker exited 1: {{{{secret:{fx.CANARY_ENV}}}}} was {fx.CANARY}",
                    "trajectory": str(out / "tasks" / "widgets.slider-s0" / "trajectory")})
    return results, eval_html(out, results, summarize(results, 33.2), "agent eval bundled (oracle)")


def test_eval_report_totals_filters_and_links_to_each_run(tmp_path, canary):
    results, page = _eval_run(tmp_path)
    html = page.read_text(encoding="utf-8")
    assert canary not in html and "{{secret" not in html
    with chromium() as d:
        _open(d, page)
        assert d.find_element("id", "verdict").text.lower() == "2/4 passed"
        assert "50%\nsuccess (2/4)" in d.find_element("id", "totals").text
        banner = d.find_element("id", "first-error").text
        assert "2 runs failed" in banner and "booking.book_ticket-s1" in banner and "0 rows in bookings" in banner
        tasks = d.find_element("id", "tasks").text
        assert "booking.book_ticket 2 50%" in tasks and "widgets.slider 1 0%" in tasks
        _filter(d, "failed")
        assert _shown(d, "tr.run") == ["run-booking.book_ticket-s1", "run-widgets.slider-s0"]
        _filter(d, "all")
        assert len(_shown(d, "tr.run")) == 4
        assert "no trajectory was written" in d.find_element("id", "run-widgets.slider-s0").text
        _keep(d, "eval-report.png")
        # each run links to its own report, written next to its trajectory, with the evaluator's checks
        link = d.find_element("css selector", "#run-booking\\.book_ticket-s1 a.report-link")
        assert link.get_attribute("href").endswith("tasks/booking.book_ticket-s1/trajectory-report.html")
        link.click()
        _wait(d, "return document.body.dataset.ready === '1' && document.body.dataset.kind === 'eval'")
        assert d.find_element("id", "verdict").text.lower() == "failed"
        checks = d.find_element("id", "checks").text
        assert "✓ ending is done" in checks and "✗ a booking Oslo → Bergen exists 0 rows in bookings" in checks
        assert "approved as risky" in d.find_element("id", "step-3").get_attribute("textContent")
        _keep(d, "eval-task-report.png")


def test_canary_secret_never_reaches_any_page(tmp_path, canary):
    """The live value named by the trajectory is blanked wherever it slipped in: the goal, a thought,
    an error, the run's status, an eval result, a fill ledger."""
    from agent.trajectory import TrajectoryWriter

    folder = tmp_path / "fill" / "trajectory"
    w = TrajectoryWriter(folder, kind="fill", meta={"script": "pay.yaml", "goal": f"pay with {canary}"})
    w.append({"action": {"type": "type", "text": "{{secret:%s}}" % fx.CANARY_ENV}, "ok": True, "row": 1, "step": 2,
              "step_name": f"type the card {canary}", "secret": fx.CANARY_ENV})
    w.append({"action": {"type": "click", "x": 10.25, "y": 20.75}, "ok": False, "error": f"field held {canary}",
              "thought": canary, "model_output": f"type({canary})", "evidence": [["focused", canary]]})
    w.close({"ok": False, "error": f"stopped at {canary}", "counts": {"ok": 0, "failed": 1}})
    (folder.parent / "results.json").write_text(json.dumps(
        {"meta": {}, "counts": {"ok": 0, "failed": 1},
         "rows": [{"row": 1, "status": "failed", "error": f"no field {canary}", "step": 2, "duration_s": 1.5}]}))
    html = write_report(folder).read_text(encoding="utf-8")
    assert canary not in html and "***" in html
    assert "no field ***" in html and "data rows" in html.lower()
    _, page = _eval_run(tmp_path / "eval")
    assert canary not in page.read_text(encoding="utf-8")
    for report in (tmp_path / "eval" / "tasks").glob("*/trajectory-report.html"):
        assert canary not in report.read_text(encoding="utf-8")


def test_report_of_a_cut_short_trajectory_and_size_of_a_long_one(tmp_path):
    """No manifest (killed): 'cut short'. 30 steps of 1280x800 screens stay a few MB (each image once)."""
    from agent.trajectory import TrajectoryWriter

    w = TrajectoryWriter(tmp_path / "long", kind="do")
    for i in range(30):
        n = w.steps_written
        shot = w.add_image(fx.screen(i % 12, f"step {i}"), step=n, label="before", ext="png")
        w.append({"action": {"type": "click", "x": 300 + i, "y": 200}, "ok": True, "screenshot": shot,
                  "screen_area": fx.AREA, "image_size": [fx.W, fx.H]})
    w._file.close()  # never sealed, as after kill -9
    page = write_report(tmp_path / "long")
    html = page.read_text(encoding="utf-8")
    assert "cut short" in html and html.count("<details class=\"step") == 30
    assert len(html.encode()) < 4_000_000, len(html.encode())
    assert html.count("data:image/jpeg;base64,") <= 2 * 30  # a thumbnail and one full copy per screenshot


def test_report_after_never_fails_a_command(tmp_path, capsys):
    from agent.cli.common import report_after

    path = report_after(fx.replay_run(tmp_path / "r"), print_fn=print)
    assert path == tmp_path / "r-report.html" and path.is_file() and f"report: {path}" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert report_after(tmp_path / "empty", print_fn=print) is None  # not a trajectory: a note, no exception
