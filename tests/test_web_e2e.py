"""Rail&Go in a real Chromium on Xvfb (no window manager), driven by real pyautogui input.

* the boxes the page reports are exact screen pixels (checked against a screenshot's edges), in app
  mode and in a normal window with tabs and an address bar, before and after the pointer moved;
* ``--today`` moves the calendar's month and disables earlier days; ``--order`` orders the rows;
* the DOM ground truth agrees with the page's report and with Chrome's own accessible names;
* ``agent eval web --policy oracle`` books through the site (sqlite checked), fails the impossible
  task with nothing stored; ``agent demo --app web`` passes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HANG_S

from tasks.apps.web.launch import start_site

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.display,
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")]


def agent(*args: str, timeout: float = HANG_S) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT)


def wait(site, pred, what: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = site.state()
        try:
            if pred(s):
                return s
        except (KeyError, TypeError, IndexError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {what}; last state page={s.get('page')} message={s.get('message')!r}")
        time.sleep(0.05)


def click(site, key: str) -> None:
    import pyautogui

    x, y, w, h = site.state()["widgets"][key]
    pyautogui.click(x + w / 2, y + h / 2)


def edges_match(img, box, inside_rgb, tol: int = 24) -> list[str]:
    """Each edge's middle pixel has the element's border colour; the pixel just outside does not."""
    x, y, w, h = box
    probes = {"left": ((x, y + h // 2), (x - 1, y + h // 2)), "right": ((x + w - 1, y + h // 2), (x + w, y + h // 2)),
              "top": ((x + w // 2, y), (x + w // 2, y - 1)), "bottom": ((x + w // 2, y + h - 1), (x + w // 2, y + h))}
    near = lambda p: all(abs(a - b) <= tol for a, b in zip(img.getpixel(p)[:3], inside_rgb))  # noqa: E731
    return [f"{side}: in {img.getpixel(i)} out {img.getpixel(o)}" for side, (i, o) in probes.items()
            if not near(i) or near(o)]


@pytest.mark.parametrize("app_mode", [True, False], ids=["app-mode", "normal-window"])
def test_reported_boxes_are_exact_screen_pixels(xdisplay, tmp_path, app_mode):
    import pyautogui

    from agent.screen import Screen

    site = start_site(tmp_path / "site", today="2026-12-15", geometry="1000x700+70+45", app_mode=app_mode,
                      env=xdisplay.env)
    try:
        s = site.state()
        assert s["window"] == [70, 45, 1000, 700] and s["origin"] == "window"
        chrome = s["viewport"][1] - 45
        assert (chrome == 0) if app_mode else (chrome > 40), s["viewport"]
        for moved in (False, True):
            if moved:  # after a pointer move the page knows the exact offset from a mouse event
                pyautogui.moveTo(700, 600)
                pyautogui.moveTo(705, 603)
                s = wait(site, lambda st: st["origin"] == "pointer", "the pointer-measured origin")
            with Screen(xdisplay.display) as scr:
                img = scr.capture().image
            assert edges_match(img, s["widgets"]["search"], (0xB9, 0x45, 0x06)) == []  # the orange button's border
            assert edges_match(img, s["widgets"]["from"], (0x87, 0x93, 0xA6)) == []  # the entry's grey border
        # a click at a reported centre lands in that element
        click(site, "to")
        wait(site, lambda st: st["focused"] == "to", "the To field focused by a click")
    finally:
        site.stop()


def test_today_moves_the_calendar_and_order_sorts_the_rows(xdisplay, tmp_path):
    import pyautogui

    site = start_site(tmp_path / "site", today="2027-01-20", order="price", env=xdisplay.env)
    try:
        click(site, "date_button")
        s = wait(site, lambda st: st["calendar"]["open"], "the calendar open")
        assert s["calendar"]["month"] == "2027-01" and s["calendar"]["label"] == "January 2027"
        assert "day:2027-01-19" in s["disabled"] and "day:2027-01-20" not in s["disabled"]
        assert "month_prev" in s["disabled"] and s["labels"]["day:2027-01-20"] == "Wednesday 20 January 2027"
        click(site, "month_next")
        s = wait(site, lambda st: st["calendar"]["month"] == "2027-02", "February shown")
        assert not any(k.startswith("day:") and k in s["disabled"] for k in s["widgets"])
        click(site, "day:2027-02-09")
        wait(site, lambda st: st["values"]["date"] == "2027-02-09" and not st["calendar"]["open"], "the day chosen")
        for key, prefix, station in (("from", "zur", "Zurich HB"), ("to", "mil", "Milan Centrale")):
            click(site, key)
            pyautogui.write(prefix)
            wait(site, lambda st: (st["suggestions"] or {}).get("items") == [station], f"{station} suggested")
            click(site, f"option:{station}")
            wait(site, lambda st: st["values"][key] == station, f"{station} chosen")
        click(site, "search")
        s = wait(site, lambda st: st["page"] == "results" and st["rows"], "the results")
        fares = [r["fare"] for r in s["rows"]]
        assert fares == sorted(fares) and len(fares) == 6
        ys = [s["widgets"][f"select:{r['departure']}"][1] for r in s["rows"]]
        assert ys == sorted(ys), "the rows are drawn in the reported order"
        assert {s["labels"][f"select:{r['departure']}"] for r in s["rows"]} == {"Select"}
    finally:
        site.stop()


def test_dom_truth_matches_the_page_and_chromes_accessible_names(xdisplay, tmp_path):
    from tests.conftest import require

    require("selenium", "the DOM ground truth attaches selenium (pip install selenium)")
    from tasks.apps.web.dom_truth import DomTruth

    site = start_site(tmp_path / "site", today="2026-12-15", remote_debugging_port=0, env=xdisplay.env)
    try:
        click(site, "date_button")
        s = wait(site, lambda st: st["calendar"]["open"] and "day:2026-12-24" in st["widgets"], "the calendar open")
        with DomTruth(site.browser) as truth:
            els = truth.elements()
            by_key = {e["key"]: e for e in els if e["key"]}
            assert set(s["widgets"]) - {"month_label"} <= set(by_key), "every reported control is found"
            for key, box in s["widgets"].items():
                if key in by_key:
                    assert by_key[key]["bounds"] == box, key
            want = {"from": ("combobox", "From"), "date_button": ("button", "Select a date"),
                    "passengers": ("combobox", "Passengers"), "search": ("button", "Search trains"),
                    "month_next": ("button", "Next month"), "day:2026-12-24": ("toggle", "Thursday 24 December 2026")}  # aria-pressed: a toggle button
            for key, (role, name) in want.items():
                assert (by_key[key]["role"], by_key[key]["name"]) == (role, name)
            assert by_key["day:2026-12-14"]["enabled"] is False and by_key["day:2026-12-15"]["enabled"] is True
            assert by_key["passengers"]["occluded"] is False
            # our names are the names Chrome's accessibility tree computes (what AT-SPI will show)
            from selenium.webdriver.common.by import By

            for el in truth.driver.find_elements(By.CSS_SELECTOR, "[data-key]"):
                key = el.get_attribute("data-key")
                if key in by_key and key != "month_label":
                    assert el.accessible_name == by_key[key]["name"], key
            truth.driver.execute_script("document.getElementById('month_next').click()")
            wait(site, lambda st: st["calendar"]["month"] == "2027-01", "January")
            names = {e["name"] for e in truth.elements()}
            assert "Friday 1 January 2027" in names and "Thursday 24 December 2026" not in names
        assert site.browser.alive, "detaching selenium leaves the browser running"
    finally:
        site.stop()


def test_agent_eval_web_oracle_books_and_fails_the_impossible_task(tmp_path, xdisplay):
    out = tmp_path / "eval"
    r = agent("eval", "web", "--policy", "oracle", "--workers", "2", "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {x["task"]: x for x in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert set(rows) == {"web.book_ticket", "web.book_cheapest", "web.no_trains"}
    assert all(x["success"] for x in rows.values()), [x for x in rows.values() if not x["success"]]
    assert rows["web.no_trains"]["ending"] == "fail" and rows["web.book_ticket"]["ending"] == "done"
    for task in ("web.book_ticket", "web.book_cheapest"):
        assert len(rows[task]["approvals"]) == 1 and "pay" in rows[task]["approvals"][0]
    db = lambda t: sqlite3.connect(out / "tasks" / f"{t}-s0" / "app" / "bookings.sqlite")  # noqa: E731
    paid = db("web.book_ticket").execute("SELECT origin, date, card_last4, status FROM bookings").fetchall()
    p = rows["web.book_ticket"]
    assert len(paid) == 1 and paid[0][3] == "paid" and paid[0][2] in ("1111", "0004") and paid[0][0] in p["goal"]
    assert db("web.no_trains").execute("SELECT count(*) FROM bookings").fetchone()[0] == 0
    assert agent("verify", rows["web.book_ticket"]["trajectory"], ).returncode == 0
    # the Pay click is the risky step: without approval the executor refuses it and nothing is stored
    r = agent("eval", "web.book_cheapest", "--no-yes", "--out", str(tmp_path / "refused"))
    row = json.loads((tmp_path / "refused" / "results.jsonl").read_text())
    assert r.returncode == 1 and row["ending"] == "stopped" and "pay" in row["refusals"][0]
    con = sqlite3.connect(tmp_path / "refused" / "tasks" / "web.book_cheapest-s0" / "app" / "bookings.sqlite")
    assert con.execute("SELECT count(*) FROM bookings").fetchone()[0] == 0


def test_agent_demo_app_web_passes(tmp_path):
    r = agent("demo", "--app", "web", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "demo passed" in r.stdout and "secret in files written: no" in r.stdout and "Chromium" not in r.stderr[-200:]
    assert "grounding=app" in r.stdout and "(risky: approved)" in r.stdout
    traj = tmp_path / "demo" / "trajectory"
    assert (traj / "manifest.json").exists() and (tmp_path / "demo" / "trajectory-report.html").exists()
    assert len(list((traj / "images").iterdir())) >= 20
    assert agent("demo", "--app", "gtk", "--out", str(tmp_path / "x")).returncode == 2
