"""``agent inspect`` on the bundled web app in Chromium: the elements the agent sees, with the bounds the
page itself reports (its state file), as a table, as JSON, at a point and as an overlay."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import HANG_S

from actions.coords import Rect
from agent.elements.model import iou

pytestmark = pytest.mark.display


@pytest.fixture
def site(a11y_display, tmp_path):
    from tasks.apps.web.launch import start_site

    s = start_site(tmp_path / "site", env=a11y_display.env, geometry="1180x740+40+30")
    try:
        yield s
    finally:
        s.stop()


def agent(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "inspect", *args], env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=HANG_S)


def test_inspect_lists_the_web_apps_controls_with_their_real_bounds(a11y_display, site, tmp_path):
    truth = site.state()["widgets"]
    r = agent(a11y_display.env, "--json", "--interactive", "--overlay", str(tmp_path / "o.png"))
    assert r.returncode == 0, r.stderr
    elements = json.loads(r.stdout)
    assert all({"role", "name", "bounds", "source"} <= set(e) for e in elements)

    def find(name: str, roles: set[str]) -> dict:
        hits = [e for e in elements if e["name"] == name and e["role"] in roles]
        assert len(hits) == 1, (name, [(e["role"], e["name"]) for e in elements])
        return hits[0]

    for key, name, roles in (("from", "From", {"entry", "combobox"}), ("to", "To", {"entry", "combobox"}),
                             ("date_button", "Select a date", {"button"}), ("search", "Search trains", {"button"})):
        e = find(name, roles)
        assert e["source"] in ("a11y", "both")
        assert iou(Rect(*e["bounds"]), Rect(*truth[key])) > 0.8, (name, e["bounds"], truth[key])
    from PIL import Image

    assert Image.open(tmp_path / "o.png").size == (1280, 800)


def test_inspect_at_a_point_and_the_table(a11y_display, site):
    x, y, w, h = site.state()["widgets"]["search"]
    r = agent(a11y_display.env, "--at", f"{x + w // 2},{y + h // 2}", "--json")
    assert r.returncode == 0, r.stderr
    [e] = json.loads(r.stdout)
    assert (e["role"], e["name"]) == ("button", "Search trains")
    r = agent(a11y_display.env, "--interactive")
    assert r.returncode == 0 and "Search trains" in r.stdout and "sources: a11y" in r.stdout, r.stdout
    r = agent(a11y_display.env, "--at", "5,5")
    assert r.returncode == 1 and "no element" in r.stderr


def test_inspect_starts_fill_forms_on_a_fresh_virtual_desktop():
    """``--virtual --app`` knows fill's bundled forms too (the held-out loan form: a Tk window, no
    tree, so every element comes from the visual parse)."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    r = agent(env, "--virtual", "--app", "loan", "--json", "--interactive")
    assert r.returncode == 0, r.stderr
    got = {(e["role"], e["name"]) for e in json.loads(r.stdout)}
    assert {("textarea", "Purpose"), ("combobox", "Department"), ("spinbox", "Loan days"),
            ("radio", "Worn"), ("button", "Register loan")} <= got, got
    r = agent(env, "--virtual", "--app", "nosuch")
    assert r.returncode != 0 and "loan" in r.stderr and "booking" in r.stderr
