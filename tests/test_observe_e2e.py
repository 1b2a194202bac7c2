"""`agent run --observe som|screenshot+elements` books a ticket on Rail&Go (Chromium, accessibility on)
with a stand-in OpenAI-compatible server on 127.0.0.1 that answers with mark numbers (generic family)
or element ids (GLM family), and fills the Tk intake form (no accessibility tree: the elements come
from the visual parse) through marks; the UI-TARS / Qwen2.5-VL family drives a Tk window with pixel
points of its own resized image (plain screenshot mode).

The stand-in never knows a coordinate: each answer is decided from the element list the request
carries (the row whose role and name it wants, the Select button whose row starts "11:00", whether
the name field still has no value, whether the radio is checked) — which is what proves the prompt
holds a usable list, and that the ids and marks it names land on the right elements. The site's
sqlite proves the booking. Without ``--yes`` the Pay click is stopped by the risky gate, naming the
button; nothing is booked until a second run with ``--yes`` (which starts on the payment page, as a
model would: from what the list shows).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.marks import HEADER
from tasks.apps.web.launch import start_site
from tests.conftest import HANG_S
from tests.fake_openai import FakeOpenAI
from tests.test_run_e2e import request_text, widgets  # noqa: F401 - widgets is a fixture

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.display,
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")]

TRIP = {"origin": "Berlin Hbf", "destination": "Munich Hbf", "date": "2027-01-28", "day": "Thursday 28 January 2027",
        "departure": "11:00", "passengers": 2, "name": "Ada Lovelace", "email": "ada@example.org", "seat": "Aisle",
        "card": "4111 1111 1111 1111"}
GOAL = (f"On the Rail&Go site, book the {TRIP['departure']} train from {TRIP['origin']} to {TRIP['destination']} on "
        f"{TRIP['date']} for {TRIP['passengers']} passengers with travel insurance. Passenger {TRIP['name']}, email "
        f"{TRIP['email']}, seat {TRIP['seat']}. Card {TRIP['card']}.")


@dataclass
class Row:
    ref: str
    role: str
    name: str
    value: str
    states: set[str]
    context: str


def listed(text: str) -> list[Row]:
    """The element table of a prompt (the last one in it), as the model reads it."""
    at = text.rfind(HEADER)
    assert at >= 0, "the prompt holds no element list"
    rows = []
    for line in text[at + len(HEADER):].strip("\n").splitlines():
        cells = line.split("\t")
        if len(cells) != 8:
            break
        rows.append(Row(cells[0], cells[1], cells[2], cells[3], set(filter(None, cells[4].split(","))), cells[5]))
    return rows


class Say:
    """How one model family writes an action on an element."""

    def __init__(self, style: str) -> None:
        self.style = style

    def __call__(self, kind: str, ref: str = "", text: str = "", thought: str = "Next.") -> str:
        if self.style == "generic":
            obj = {"click": {"action": "click", "mark": ref}, "type": {"action": "type", "mark": ref, "text": text},
                   "select": {"action": "select", "mark": ref, "option": text}, "done": {"action": "done"},
                   "wait": {"action": "wait", "seconds": 1}, "fail": {"action": "fail", "reason": text}}[kind]
            if "mark" in obj:
                obj["mark"] = int(ref)  # JSON numbers, as models write them
            return f"{thought}\n```json\n{json.dumps(obj)}\n```"
        call = {"click": f"left_click(element='{ref}')", "type": f"type(content='{text}', element='{ref}')",
                "select": f"select(element='{ref}', option='{text}')", "done": "DONE()", "wait": "WAIT()",
                "fail": "FAIL()"}[kind]
        return f"<think>Reading the element list.</think>{thought}\n<|begin_of_box|>{call}<|end_of_box|>\nMemory:\n[]"


class Booker:
    """The stand-in model: decides each answer from the element list in the request."""

    SEARCH = [("type", "combobox", "From", "Ber"), ("click", "listitem", TRIP["origin"], ""),
              ("type", "combobox", "To", "Mun"), ("click", "listitem", TRIP["destination"], ""),
              ("click", "button", "Select a date", ""), ("click", "button", "Next month", ""),
              ("click", "toggle", TRIP["day"], ""), ("select", "combobox", "Passengers", "2 passengers"),
              ("click", "button", "Search trains", "")]

    def __init__(self, say: Say) -> None:
        self.say = say
        self.i = 0
        self.misses = 0
        self.lists: list[list[Row]] = []

    def __call__(self, body: dict) -> str:
        rows = listed(request_text(body))
        self.lists.append(rows)
        say = self.say

        def find(role: str, name: str) -> Row | None:
            return next((r for r in rows if r.role == role and r.name == name), None)

        if find("button", "New search"):
            return say("done", thought="The booking is confirmed.")
        pay = next((r for r in rows if r.role == "button" and r.name.startswith("Pay")), None)
        if pay is not None:
            card = find("entry", "Card number")
            if card is not None and not card.value:
                return say("type", card.ref, TRIP["card"], "Enter the card number.")
            return say("click", pay.ref, thought="Confirm the booking with the button.")
        name = find("entry", "Full name")
        if name is not None:
            email, aisle, ins = find("entry", "Email"), find("radio", TRIP["seat"]), find("checkbox", "Add travel insurance")
            if not name.value:
                return say("type", name.ref, TRIP["name"], "Fill in the passenger.")
            if email is not None and not email.value:
                return say("type", email.ref, TRIP["email"], "Fill in the email.")
            if aisle is not None and "checked" not in aisle.states:
                return say("click", aisle.ref, thought="Choose the seat.")
            if ins is not None and "checked" not in ins.states:
                return say("click", ins.ref, thought="Add the insurance.")
            return say("click", find("button", "Continue").ref, thought="Go on.")
        rows_11 = [r for r in rows if r.role == "button" and r.name == "Select" and r.context.startswith(TRIP["departure"])]
        if rows_11:
            return say("click", rows_11[0].ref, thought="Take the train in that row.")
        while self.i < len(self.SEARCH):
            kind, role, want, text = self.SEARCH[self.i]
            r = find(role, want)
            if r is None:  # the screen may still be catching up (a suggestion list on its way)
                self.misses += 1
                return say("wait") if self.misses <= 3 else say("fail", text=f"no {role} {want!r} listed")
            self.i, self.misses = self.i + 1, 0
            return say(kind, r.ref, text, f"Next: {kind} {want}.")
        self.misses += 1  # the results page may still be loading (a busy machine): wait, as a model would
        return say("wait") if self.misses <= 5 else say("fail", text="the search did not list the trains")


def run_agent(url: str, env: dict, out: Path, *extra: str, goal: str = GOAL) -> subprocess.CompletedProcess:
    env = {**env, "AGENT_MODEL_URL": url, "AGENT_MODEL": "glm-4.5v", "AGENT_CONFIG": str(out.parent / "no.toml"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "agent", "run", goal, "--out", str(out), "--max-steps", "40",
                           "--no-kill-hotkey", *extra], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=HANG_S, cwd=ROOT)


def bookings(db: Path) -> list[tuple]:
    con = sqlite3.connect(str(db))
    try:
        return con.execute("SELECT origin, destination, date, departure, passengers, passenger, email, seat, insurance, "
                           "card_last4, status FROM bookings").fetchall()
    finally:
        con.close()


WANT = [(TRIP["origin"], TRIP["destination"], TRIP["date"], TRIP["departure"], 2, TRIP["name"], TRIP["email"],
         TRIP["seat"], 1, "1111", "paid")]


def steps_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]


def booked_with(site, a11y_display, tmp_path: Path, style: str, observe: str,
                runs: Callable[[str, Path], None] | None = None) -> tuple[Booker, Path]:
    booker = Booker(Say(style))
    family = "generic" if style == "generic" else "glm45v"
    out = tmp_path / "run"
    with FakeOpenAI(booker) as srv:
        if runs is not None:
            runs(srv.url, tmp_path)
        r = run_agent(srv.url, a11y_display.env, out, "--observe", observe, "--model-family", family, "--yes")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert bookings(site.db_path) == WANT
    return booker, out


def test_som_generic_marks_book_a_ticket_and_the_gate_stops_pay_without_yes(a11y_display, tmp_path):
    site = start_site(tmp_path / "site", today="2026-12-01", env=a11y_display.env)
    try:
        first = tmp_path / "first"

        def without_yes(url: str, tmp: Path) -> None:
            r = run_agent(url, a11y_display.env, first, "--observe", "som", "--model-family", "generic")
            assert r.returncode == 3, r.stdout[-3000:] + r.stderr[-3000:]  # stopped: not approved
            assert "not approved" in r.stdout and "Pay €" in r.stdout, r.stdout[-2000:]
            assert bookings(site.db_path) == [] and site.state()["page"] == "payment"

        booker, out = booked_with(site, a11y_display, tmp_path, "generic", "som", without_yes)
        stop = [s for s in steps_of(first) if s.get("safety_stop")]
        assert len(stop) == 1 and stop[0]["element"]["name"].startswith("Pay €"), stop
        assert stop[0]["action"]["target"].startswith("button 'Pay €")
        # the second run started on the payment page; its Pay click was approved (--yes), on the element
        pay = [s for s in steps_of(out) if (s.get("element") or {}).get("name", "").startswith("Pay")]
        assert len(pay) == 1 and pay[0]["approved_risky"] and "pay" in pay[0]["approved_risky"].lower()
        obs = [s["observation"] for s in steps_of(first) if s.get("observation")]
        assert obs and all(o["mode"] == "som" and o["listed"] >= 1 and o["omitted"] == 0 for o in obs)
        assert all(r.ref.isdigit() for rows in booker.lists for r in rows)  # marks are numbers
        # a "type into" answer is a click on the element and the text, one model step
        typed = [s for s in steps_of(first) if s["action"]["type"] == "type"]
        assert typed and all(s.get("part_of") is not None and s["element"]["role"] in ("combobox", "entry")
                             for s in typed)
    finally:
        site.stop()


def test_screenshot_elements_glm_ids_book_a_ticket_in_another_layout(a11y_display, tmp_path):
    # another window size and position, rows ordered by price: the ids still name the right elements
    site = start_site(tmp_path / "site", today="2026-12-01", order="price", geometry="1000x720+150+50",
                      env=a11y_display.env)
    try:
        booker, out = booked_with(site, a11y_display, tmp_path, "glm", "screenshot+elements")
        refs = {r.ref for rows in booker.lists for r in rows}
        assert refs and all(len(x) >= 8 and all(c in "0123456789abcdef." for c in x) for x in refs)  # element ids
        steps = steps_of(out)
        sel = next(s for s in steps if s.get("element", {}).get("name") == "Passengers")
        assert sel["element"]["action"] == "select"
        meta = json.loads((out / "meta.json").read_text())
        assert meta["observe"] == "screenshot+elements" and meta["family"] == "glm45v"
    finally:
        site.stop()


class Filler:
    """The stand-in for the intake form: each answer names the next element of its plan from the list."""

    PLAN = [("type", "entry", "Full name", "Grace Hopper"), ("type", "entry", "Email address", "grace@example.org"),
            ("click", "radio", "Other", ""), ("select", "combobox", "Country of birth", "Belgium"),
            ("click", "checkbox", "Smoker", ""), ("click", "button", "Save", "")]

    def __init__(self) -> None:
        self.i = 0
        self.say = Say("generic")

    def __call__(self, body: dict) -> str:
        rows = listed(request_text(body))
        if self.i == len(self.PLAN):
            return self.say("done", thought="Saved.")
        kind, role, want, text = self.PLAN[self.i]
        r = next((r for r in rows if r.role == role and r.name == want), None)
        if r is None:
            return self.say("fail", text=f"no {role} {want!r} listed: {[(r.role, r.name) for r in rows]}")
        self.i += 1
        return self.say(kind, r.ref, text, f"Next: {want}.")


def test_som_on_a_tk_form_without_an_accessibility_tree(spawn_window, xdisplay, tmp_path):
    from tasks.apps.intake import TITLE

    db = tmp_path / "intake.sqlite"
    spawn_window([sys.executable, "-m", "tasks.apps.intake", "--db", str(db), "--geometry", "700x620+200+60"],
                 title=TITLE)
    out = tmp_path / "run"
    with FakeOpenAI(Filler()) as srv:
        r = run_agent(srv.url, xdisplay.env, out, "--observe", "som", "--model-family", "generic",
                      goal="Fill in the intake for Grace Hopper (grace@example.org), sex Other, born in Belgium, "
                           "smoker, and save it.")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    con = sqlite3.connect(str(db))
    try:
        row = con.execute("SELECT full_name, email, sex, country, smoker FROM intakes").fetchall()
    finally:
        con.close()
    assert row == [("Grace Hopper", "grace@example.org", "Other", "Belgium", 1)]
    sources = {s["observation"]["mode"] for s in steps_of(out) if s.get("observation")}
    assert sources == {"som"}


def test_uitars_pixels_in_screenshot_mode(widgets, xdisplay, tmp_path):
    from model.uitars import smart_resize

    w = json.loads(widgets.read_text())["widgets"]
    rh, rw = smart_resize(800, 1280)  # Qwen2.5-VL's own resize of the 1280x800 screenshot

    def px(box):
        x, y, bw, bh = box
        return round((x + bw / 2) * rw / 1280), round((y + bh / 2) * rh / 800)

    answers = [f"Thought: press it\nAction: click(start_box='({px(w['button'])[0]},{px(w['button'])[1]})')",
               f"Thought: the entry\nAction: click(start_box='<|box_start|>{px(w['entry'])}<|box_end|>')",
               "Thought: type\nAction: type(content='Hello Qwen')",
               "Thought: all set\nAction: finished(content='done')"]
    out = tmp_path / "run"
    with FakeOpenAI(answers) as srv:
        r = run_agent(srv.url, xdisplay.env, out, "--model-family", "qwen2.5-vl", goal="press the button, type Hello Qwen")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    state = json.loads(widgets.read_text())
    assert (state["clicks"], state["text"]) == (1, "Hello Qwen")
    assert "Screen elements" not in request_text(srv.requests[0]["body"])  # plain screenshot mode
