"""The accessibility source on native GTK 3 applications from Debian: ``yad --form`` (placed where
we ask, with labelled fields) and ``gtk3-widget-factory`` (many widget kinds); and what happens
when an application hangs or dies while its tree is read.

Real parts: the session Xvfb with an AT-SPI bus, the applications' own ATK bridge, pyautogui input.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from agent.elements.a11y import A11ySource
from tests.a11y_apps import stop_group, wait_for

pytestmark = pytest.mark.display
needs_yad = pytest.mark.skipif(shutil.which("yad") is None, reason="yad is not installed (apt-get install yad)")
needs_factory = pytest.mark.skipif(shutil.which("gtk3-widget-factory") is None,
                                   reason="gtk3-widget-factory is not installed (apt-get install gtk-3-examples)")


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def yad_form(env: dict[str, str], title: str, x: int, y: int) -> subprocess.Popen:
    return start(["yad", "--form", f"--title={title}", "--field=From", "--field=To", "--field=Travel insurance:CHK",
                  "--field=Class:CB", "--field=Card PIN:H", "--field=Seats:NUM",
                  "Paris", "", "FALSE", "First!^Second", "s3cret-4711", "2!1..9!1",
                  f"--geometry=440x330+{x}+{y}", "--button=Pay:0", "--button=Cancel:1"], env)


def in_window(src: A11ySource, title: str) -> list:
    return [e for e in src.snapshot() if e.window == title]


@pytest.fixture
def yad(a11y_display):
    procs: list[subprocess.Popen] = []
    src = A11ySource(a11y_display.display, timeout_ms=600)

    def open_form(title: str, x: int, y: int):  # noqa: ANN202
        procs.append(yad_form(a11y_display.env, title, x, y))
        wait_for(lambda: any(e.name == "Pay" for e in in_window(src, title)), what=f"yad {title!r}'s Pay button")
        return procs[-1]

    yield open_form, src
    src.close()
    for p in procs:
        stop_group(p)


@needs_yad
def test_yad_form_fields_have_label_names_values_and_sane_bounds(yad):
    import pyautogui

    open_form, src = yad
    open_form("Trip details", 700, 60)
    els = in_window(src, "Trip details")
    (win,) = [e for e in els if e.role == "window"]
    assert (win.bounds.left, win.bounds.top, win.bounds.width, win.bounds.height) == (700, 60, 440, 330)
    for e in els:
        assert win.bounds.left <= e.bounds.left and e.bounds.right <= win.bounds.right, e
        assert win.bounds.top <= e.bounds.top and e.bounds.bottom <= win.bounds.bottom, e
    named = {(e.role, e.name): e for e in els}
    assert named[("entry", "From")].value == "Paris"
    assert named[("entry", "To")].value == ""
    assert named[("spinbox", "Seats")].value == "2"
    assert named[("combobox", "Second")].value == "Second"
    assert named[("checkbox", "Travel insurance")].checked is False
    assert {("button", "Pay"), ("button", "Cancel")} <= set(named)
    # the entry sits right of its label, on the same line
    frm, lab = named[("entry", "From")], named[("label", "From")]
    assert lab.bounds.right <= frm.bounds.left and abs(lab.center[1] - frm.center[1]) <= 2
    # the hidden field: a password entry whose text is never read
    (pin,) = [e for e in els if e.attr("password") == "true"]
    assert pin.role == "entry" and pin.value is None
    assert "s3cret" not in repr([e.to_json() for e in src.snapshot()])
    # real input: a click at the reported centre toggles the checkbox; focus follows a click
    box = named[("checkbox", "Travel insurance")]
    pyautogui.click(*box.center)
    wait_for(lambda: [e for e in in_window(src, "Trip details") if e.name == "Travel insurance" and e.checked],
             what="the checkbox to be checked")
    to = named[("entry", "To")]
    pyautogui.click(*to.center)
    got = wait_for(lambda: (f := src.focused()) is not None and f.name == "To" and f, what="focus in To")
    assert got.id == to.id and got.window == "Trip details"
    pyautogui.write("Rome", interval=0.02)
    wait_for(lambda: [e for e in in_window(src, "Trip details") if e.name == "To" and e.value == "Rome"],
             what="the typed value")
    hit = src.element_at(*named[("button", "Pay")].center)
    assert hit is not None and (hit.role, hit.name, hit.id) == ("button", "Pay", named[("button", "Pay")].id)


@needs_yad
def test_a_hung_application_costs_a_bounded_wait_and_a_dead_one_nothing(yad):
    open_form, src = yad
    left = open_form("Left form", 20, 20)
    right = open_form("Right form", 700, 400)
    assert in_window(src, "Left form") and in_window(src, "Right form")
    os.kill(right.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        els = src.snapshot()
        took = time.monotonic() - t0
        assert [e for e in els if e.window == "Left form" and e.name == "Pay"], "the answering app is still read"
        assert not [e for e in els if e.window == "Right form"]
        assert any("timed out" in n for n in src.last_notes), src.last_notes
        assert took < 5 * 0.6 + 2, took  # a few batches, each bounded by one 0.6 s timeout
        t0 = time.monotonic()
        assert src.element_at(900, 500) is None  # the hung window: no answer, no hang
        src.focused()
        assert time.monotonic() - t0 < 3 * 0.6 + 2
    finally:
        os.kill(right.pid, signal.SIGCONT)
    wait_for(lambda: in_window(src, "Right form"), what="the resumed app's elements", timeout=20)
    right.kill()
    right.wait(5)
    wait_for(lambda: not in_window(src, "Right form"), what="the dead app to vanish", timeout=20)
    assert [e for e in src.snapshot() if e.window == "Left form" and e.name == "Pay"]
    left.kill()


@needs_factory
def test_widget_factory_exposes_named_controls_with_states(a11y_display):
    proc = start(["gtk3-widget-factory"], a11y_display.env)
    src = A11ySource(a11y_display.display)
    try:
        els = wait_for(lambda: (s := src.snapshot()) and any(e.name == "Sans Regular" for e in s) and s,
                       what="the widget factory's font button", timeout=60)
        roles = {e.role for e in els}
        assert {"button", "toggle", "checkbox", "radio", "entry", "spinbox", "slider", "combobox", "tab",
                "textarea"} <= roles, roles
        checks = [e for e in els if e.role == "checkbox" and e.name == "checkbutton"]
        assert len(checks) >= 4 and any(e.checked for e in checks) and any(not e.checked for e in checks)
        assert any("enabled" not in e.states for e in checks), "insensitive checkboxes are not enabled"
        assert [e for e in els if e.role == "tab" and e.name == "page 1" and e.has("selected")]
        for e in els:  # bounds on the 1280x800 screen (the window is wider: cut at the edge)
            assert e.bounds.width > 0 and e.bounds.height > 0 and e.bounds.right <= 1280 and e.bounds.bottom <= 800
        # the window has no accessible name (a header bar); it takes its X title
        assert {e.window for e in els} == {"gtk3-widget-factory"}, {e.window for e in els}
        (font,) = [e for e in els if e.name == "Sans Regular"]
        hit = src.element_at(*font.center)
        assert hit is not None and hit.id == font.id
        t0 = time.perf_counter()
        for _ in range(5):
            src.snapshot()
        print(f"\ngtk3-widget-factory: {len(els)} elements; snapshot warm mean "
              f"{(time.perf_counter() - t0) / 5 * 1000:.0f} ms; timings {src.last_timings}")
    finally:
        src.close()
        stop_group(proc)
