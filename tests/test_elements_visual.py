"""The visual element source on real Tk windows in Xvfb, judged by the apps' own ``winfo`` ground truth.

Every control of the intake form (labels above), the sample form (labels left) and the results
table must come out with the right role, the name a person reads and a box overlapping Tk's own
(IoU ≥ 0.5); tick box and radio states must follow real pyautogui clicks; the six "Select" buttons
must be told apart by their row after the window is resized; an incremental snapshot after typing
must equal a cold one on the same frame and cost less.
"""

from __future__ import annotations

import sys
import time

import pytest

from agent.elements.ground import ElementAmbiguous, ElementQuery, locate
from agent.elements.model import ScreenModel, iou, sort_elements
from agent.elements.visual import VisualSource
from tasks.apps.state import read_state
from tasks.element_truth import name_agrees, score, truth_from_state

TITLES = {"intake": "desk-agent intake", "results": "desk-agent results", "form": "desk-agent sample form",
          "booking": "desk-agent booking", "editor": "desk-agent editor", "loan": "desk-agent equipment loan"}


def drawn(s: dict) -> bool:
    """The app has mapped every widget it describes (its first state file may predate that)."""
    return s["window"][2] > 1 and bool(s["elements"]) and all(e["mapped"] and e["box"][2] > 1 for e in s["elements"])


@pytest.fixture(scope="module")
def source():
    return VisualSource()


@pytest.fixture
def app(spawn_window, tmp_path):
    """``app(module, *args) -> (proc, state_path)``: a bundled Tk app with its ground truth published."""

    def start(module: str, *args: str):
        state = tmp_path / f"{module}.json"
        db = [] if module in ("results", "editor") else ["--db", str(tmp_path / f"{module}.sqlite")]
        proc = spawn_window([sys.executable, "-m", f"tasks.apps.{module}", "--state", str(state), *db, *args],
                            title=TITLES[module], timeout=30)
        read_state(state, drawn, timeout=30)
        return proc, state

    return start


@pytest.fixture
def mouse(xdisplay):
    from actions.backends import PyAutoGUIBackend

    b = PyAutoGUIBackend()
    b.move(1270, 790)
    return b


def settled(screen, state_path, pred=drawn, timeout: float = 20.0):
    """The app's state once ``pred`` holds, and a frame of the screen once it stopped changing."""
    from agent.screen import wait_settled

    read_state(state_path, lambda s: drawn(s) and pred(s), timeout=timeout)
    res = wait_settled(screen, stable_for=0.2, timeout=timeout)
    return read_state(state_path, lambda s: drawn(s) and pred(s), timeout=timeout), res.frame


def click(mouse, e) -> None:
    x, y = e.center
    mouse.move(int(x), int(y))
    mouse.click("left", 1)


def check_all(state: dict, elements) -> None:
    sc = score(truth_from_state(state), elements)
    assert sc.truth >= 3
    assert not sc.misses, f"missed: {sc.misses}; extras: {sc.extras}"
    assert sc.precision == 1.0, f"extra interactive elements: {sc.extras}"


@pytest.mark.parametrize("args", [(), ("--font", "DejaVu Serif", "--font-size", "13", "--geometry", "860x720+10+10")],
                         ids=["condensed-11", "serif-13"])
def test_intake_labels_above_every_control_found_and_named(app, screen, source, args):
    _, state = app("intake", *args)
    s, frame = settled(screen, state)
    els = source.snapshot(frame)
    check_all(s, els)
    m = ScreenModel(sort_elements(els), frame.region)
    # the spin boxes' labels sit 2-3 px above them; the combobox below keeps its own label
    assert locate(m, ElementQuery(role="spinbox", name="Age")).role == "spinbox"
    assert locate(m, ElementQuery(role="combobox", name="Country of birth")).value == ""
    notes = locate(m, ElementQuery(role="field", name="Notes"))
    assert notes.role == "textarea" and notes.bounds.height > 250
    assert {e.group for e in els if e.role == "radio"} == {"Sex"}
    assert {e.name for e in els if e.role == "button"} == {"Save", "Clear"}


def test_loan_form_held_out(app, screen, source):
    """Fill's held-out form at its own size and font: a 1-px outlined multi-line box with its label
    left of its middle (its outline and focus ring are not boxes of their own), and a small "Reset"
    whose "R" ends above the baseline of the letters beside it (a stroke, not a caret: read "Reset",
    never "Fleset")."""
    _, state = app("loan")
    s, frame = settled(screen, state)
    els = source.snapshot(frame)
    check_all(s, els)
    purpose = locate(els, ElementQuery(role="field", name="Purpose"))
    assert purpose.role == "textarea" and purpose.bounds.height > 60
    assert {e.name for e in els if e.role == "button"} == {"Reset", "Register loan"}
    assert {e.group for e in els if e.role == "radio"} == {"Condition"}


@pytest.mark.parametrize("theme", ["clam", "alt", "default"])
def test_ttk_themes_it_was_not_tuned_on(spawn_window, screen, source, tmp_path, theme):
    """A held-out form in three ttk themes (``tests/themed_form_app.py``): every control found and
    named; the chosen radio is one radio (clam's black dot inside its white disc is its mark, not a
    second radio), and the radios are grouped by their frame's title."""
    from pathlib import Path

    from tests.themed_form_app import TITLE

    state = tmp_path / "themed.json"
    spawn_window([sys.executable, str(Path(__file__).with_name("themed_form_app.py")), str(state), "--theme", theme],
                 title=TITLE, timeout=30)
    s, frame = settled(screen, state)
    els = source.snapshot(frame)
    check_all(s, els)
    radios = [e for e in els if e.role == "radio"]
    assert [(e.name, e.checked) for e in radios] == [("Envelope", False), ("Box", True), ("Crate", False),
                                                     ("Pallet", False)]
    assert {e.group for e in radios} == {"Packaging"}
    assert not any(e.checked for e in els if e.role == "checkbox")
    assert locate(els, ElementQuery(role="field", name="Delivery instructions")).role == "textarea"


def test_sample_form_labels_left(app, screen, source, mouse):
    from actions.coords import Rect

    _, state = app("form", "--font-size", "11")
    s, frame = settled(screen, state)
    els = source.snapshot(frame)
    check_all(s, els)
    inside = source.snapshot(frame, area=Rect(*s["window"]))  # the window alone gives the same controls
    assert sorted(e.label() for e in inside if e.interactive) == sorted(e.label() for e in els if e.interactive)
    click(mouse, locate(els, ElementQuery(role="entry", name="Phone")))
    s, frame = settled(screen, state, lambda st: "focused" in next(e for e in st["elements"] if e["key"] == "phone")["states"])
    focused = [e for e in source.snapshot(frame) if "focused" in e.states]
    assert [e.name for e in focused] == ["Phone"]  # from the caret or Tk's focus ring


def test_male_is_not_female_and_states_follow_real_clicks(app, screen, source, mouse):
    _, state = app("intake")
    s, frame = settled(screen, state)
    m = source.model(frame)
    male = locate(m, ElementQuery(role="radio", name="Male"))
    female = locate(m, ElementQuery(role="radio", name="Female", group="Sex"))
    truth = {t.key: t for t in truth_from_state(s)}
    assert iou(male.bounds, truth["sex:Male"].box) >= 0.5 and iou(female.bounds, truth["sex:Female"].box) >= 0.5
    assert male.checked is False and female.checked is False
    allergies = locate(m, ElementQuery(role="checkbox", name="Has allergies"))
    click(mouse, male)
    click(mouse, allergies)
    s, frame = settled(screen, state, lambda st: st["values"]["sex"] == "Male" and st["values"]["allergies"])
    m = source.model(frame)
    assert locate(m, ElementQuery(role="radio", name="Male")).checked is True
    assert locate(m, ElementQuery(role="radio", name="Female")).checked is False
    assert locate(m, ElementQuery(role="checkbox", name="Has allergies")).checked is True
    assert locate(m, ElementQuery(role="checkbox", name="Smoker")).checked is False
    check_all(s, m)
    sc = score(truth_from_state(s), m)
    assert sc.state_accuracy == 1.0
    # a few levels of noise on every pixel (a lossy remote desktop, dithering) flips no state or name
    import numpy as np
    from PIL import Image

    from agent.screen import Frame

    rgb = np.asarray(frame.image).astype(np.int16)
    noisy = np.clip(rgb + np.random.default_rng(1).integers(-3, 4, rgb.shape), 0, 255).astype(np.uint8)
    again = VisualSource().snapshot(Frame(Image.fromarray(noisy), frame.left, frame.top, frame.taken_at))

    def seen(els):
        return sorted((e.role, e.name, e.checked) for e in els if e.interactive)

    assert seen(again) == seen(m)
    click(mouse, locate(m, ElementQuery(role="radio", name="Female")))
    click(mouse, locate(m, ElementQuery(role="checkbox", name="Has allergies")))
    s, frame = settled(screen, state, lambda st: st["values"]["sex"] == "Female" and not st["values"]["allergies"])
    m = source.model(frame)
    assert locate(m, ElementQuery(role="radio", name="Female")).checked is True
    assert locate(m, ElementQuery(role="radio", name="Male")).checked is False
    assert locate(m, ElementQuery(role="checkbox", name="Has allergies")).checked is False


def test_select_buttons_told_apart_by_row_after_resize(app, screen, source, mouse, xdisplay):
    from Xlib import display as xlib_display

    proc, state = app("results")
    d = xlib_display.Display(xdisplay.display)
    try:
        d.create_resource_object("window", proc.window_id).configure(width=1040, height=560)
        d.sync()
    finally:
        d.close()
    s, frame = settled(screen, state, lambda st: st["window"][2] == 1040)
    els = source.snapshot(frame)
    check_all(s, els)
    m = ScreenModel(sort_elements(els), frame.region)
    with pytest.raises(ElementAmbiguous):
        locate(m, ElementQuery(role="button", name="Select"))
    truth = {t.key: t for t in truth_from_state(s)}
    for t in (t for t in truth.values() if t.key.startswith("select:")):
        e = locate(m, ElementQuery(role="button", name="Select", row=t.key.split(":", 1)[1]))
        assert iou(e.bounds, t.box) >= 0.5 and name_agrees(t.row, e.row)
    filt = locate(m, ElementQuery(role="entry", name="Filter by city"))  # a placeholder is its only label
    assert filt.value is None
    click(mouse, locate(m, ElementQuery(role="button", name="Select", row="15:05")))
    assert read_state(state, lambda st: st["selected"] == "15:05", timeout=20)["status"].startswith("Selected: 15:05")


def test_incremental_snapshot_equals_cold_and_is_cheaper(app, screen, mouse):
    _, state = app("intake")
    warm = VisualSource()
    s, frame = settled(screen, state)
    click(mouse, locate(warm.model(frame), ElementQuery(role="entry", name="Email address")))
    mouse.write("ada@")
    s, frame = settled(screen, state, lambda st: st["values"]["email"] == "ada@")
    warm.snapshot(frame)  # focus has moved to the field: from here on only its inside changes
    mouse.write("example.org")
    s, frame = settled(screen, state, lambda st: st["values"]["email"] == "ada@example.org")
    before = dict(warm.stats)
    t = time.perf_counter()
    inc = warm.snapshot(frame)
    inc_s = time.perf_counter() - t
    cold_src = VisualSource()
    t = time.perf_counter()
    cold = cold_src.snapshot(frame)
    cold_s = time.perf_counter() - t

    def key(e):
        return (e.role, e.name, e.value, tuple(sorted(e.states)), e.group, e.row, e.bounds)

    assert sorted(map(key, inc)) == sorted(map(key, cold))
    assert warm.stats["kept_boxes"] == before["kept_boxes"] + 1  # the box pass was skipped
    read = warm.stats["read"] - before["read"]
    assert read <= 3 < cold_src.stats["read"], (read, cold_src.stats)
    assert inc_s < cold_s, (inc_s, cold_s)
    email = next(e for e in inc if e.role == "entry" and e.name == "Email address")
    assert name_agrees("ada@example.org", email.value) and "focused" in email.states


def test_open_combobox_list_gives_options_to_click(app, screen, source, mouse):
    _, state = app("intake")
    s, frame = settled(screen, state)
    combo = locate(source.model(frame), ElementQuery(role="combobox", name="Country of birth"))
    click(mouse, combo)
    mouse.move(int(combo.bounds.left) - 30, int(combo.bounds.top) - 40)  # off the list: no hover highlight
    res = None
    for _ in range(40):  # the list is a separate window that maps a moment after the click
        from agent.screen import wait_settled

        res = wait_settled(screen, stable_for=0.2, timeout=10).frame
        m = source.model(res)
        if any(e.role == "option" for e in m):
            break
    options = [e for e in m if e.role == "option"]
    assert len(options) >= 8 and {o.group for o in options} == {"Country of birth"}
    assert [o.name for o in options[:3]] == ["Argentina", "Australia", "Austria"]  # reading order: top down
    click(mouse, locate(m, ElementQuery(role="option", name="Chile")))
    assert read_state(state, lambda st: st["values"]["country"] == "Chile", timeout=20)
    s, frame = settled(screen, state, lambda st: st["values"]["country"] == "Chile")
    assert locate(source.model(frame), ElementQuery(role="combobox", name="Country of birth")).value == "Chile"


def test_apps_it_was_not_tuned_on(app, screen, source, mouse, tmp_path):
    """The booking and editor apps predate the visual source (labels left at fixed offsets, sunken
    entries, caption-only buttons, a disabled seat grid, an unlabelled text area)."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "notes.txt").write_text("Call Ada about the invoice.\n")
    _, state = app("editor", "--root", str(folder), "--open", "notes.txt")
    s, frame = settled(screen, state)
    check_all(s, source.snapshot(frame))
    _, state = app("booking")
    s, frame = settled(screen, state)
    els = source.snapshot(frame)
    check_all(s, els)
    for key, text in (("from", "Oslo"), ("to", "Bergen"), ("date", "2025-06-01")):
        click(mouse, locate(els, ElementQuery(role="entry", name={"from": "From", "to": "To", "date": "Date"}[key])))
        mouse.write(text)
    read_state(state, lambda st: st["fields"]["date"] == "2025-06-01", timeout=20)
    click(mouse, locate(els, ElementQuery(role="button", name="Search")))
    s, frame = settled(screen, state, lambda st: any(k.startswith("trip:") for k in st["widgets"]))
    els = source.snapshot(frame)
    check_all(s, els)
    click(mouse, locate(els, ElementQuery(role="button", name="12:40")))  # "12:40  Oslo - Bergen  NOK 337"
    s, frame = settled(screen, state, lambda st: st["page"] == "seat")
    els = source.snapshot(frame)
    check_all(s, els)
    taken = [e for e in els if e.role == "button" and "enabled" not in e.states]
    assert sorted(e.name.replace(" ", "") for e in taken) == ["1Bx", "2Cx", "3Ax"]  # greyed out: taken
