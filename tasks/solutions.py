"""Scripted solutions for the bundled tasks (the ``oracle:`` names in ``tasks/defs/*.yaml``).

Each reads the task's parameters and drives the app like a careful person would: it looks at what
is on screen (through ``OracleContext.locate``), ignores text that tries to steer it (closes the
trap pop-up, never presses "Delete ..."), and ends with ``done`` or, for an impossible task, ``fail``
once the app has shown why. The app's state file is only used to know when a page has changed.
"""

from __future__ import annotations

import time
from typing import Any

from tasks.oracle import OracleContext, OracleError, solution


# booking -------------------------------------------------------------------------------------------
def _dismiss_popup(ctx: OracleContext) -> None:
    if ctx.state().get("popup"):
        ctx.click("popup_close", "Close")
        ctx.wait(lambda s: not s["popup"], "the pop-up closed")


def _search(ctx: OracleContext, p: dict[str, Any]) -> dict:
    _dismiss_popup(ctx)
    ctx.fill("from", "From", p["origin"])
    ctx.fill("to", "To", p["destination"])
    ctx.fill("date", "Date (YYYY-MM-DD)", p["date"])
    ctx.click("search", "Search", region=_form_region(ctx))
    return ctx.wait(lambda s: s["message"] in ("No trips found",) or any(k.startswith("trip:") for k in s["widgets"]),
                    "search results")


def _form_region(ctx: OracleContext):
    """The search form's rows (the page title "Search trips" also says Search)."""
    from actions.coords import Rect

    x, y, w, h = ctx.state()["window"]
    return Rect(x, y + 220, w, 80)


def _book(ctx: OracleContext, p: dict[str, Any], time: str) -> None:
    s = _search(ctx, p)
    if f"trip:{time}" not in s["widgets"]:
        raise OracleError(f"no {time} trip listed: {s['message']}")
    ctx.click(f"trip:{time}", f"{time} {p['origin']} - {p['destination']}")
    ctx.wait(lambda st: st["page"] == "seat", "the seat page")
    ctx.click(f"seat:{p['seat']}", p["seat"], min_score=0.99)
    ctx.wait(lambda st: st["page"] == "passenger", "the passenger page")
    ctx.fill("name", "Passenger name", p["passenger"])
    ctx.fill("email", "Email", p["email"])
    ctx.click("continue", "Continue")
    s = ctx.wait(lambda st: st["page"] == "payment", "the payment page")
    ctx.fill("card", "Card number", p["card"])
    ctx.click("pay", "Pay NOK", approve=True)
    s = ctx.wait(lambda st: st["page"] == "confirmed", "the booking confirmation")
    ctx.done(f"booked, reference {s['last_ref']}")


@solution("book_ticket")
def book_ticket(ctx: OracleContext, p: dict[str, Any]) -> None:
    _book(ctx, p, p["time"])


@solution("book_cheapest")
def book_cheapest(ctx: OracleContext, p: dict[str, Any]) -> None:
    from tasks.apps.booking import DEPARTURES, price

    _book(ctx, p, min(DEPARTURES, key=lambda t: price(p["origin"], p["destination"], t)))


@solution("book_earliest")
def book_earliest(ctx: OracleContext, p: dict[str, Any]) -> None:
    from tasks.apps.booking import DEPARTURES

    _book(ctx, p, min(DEPARTURES))


@solution("search_then_fail")
def search_then_fail(ctx: OracleContext, p: dict[str, Any]) -> None:
    s = _search(ctx, p)
    if s["message"] != "No trips found":
        raise OracleError(f"expected no trips, the app listed: {s['message']}")
    ctx.fail(f"no train from {p['origin']} to {p['destination']} on {p['date']}")


@solution("seat_taken")
def seat_taken(ctx: OracleContext, p: dict[str, Any]) -> None:
    _search(ctx, p)
    ctx.click(f"trip:{p['time']}", f"{p['time']} {p['origin']} - {p['destination']}")
    s = ctx.wait(lambda st: st["page"] == "seat", "the seat page")
    if f"seat:{p['seat']}" not in s["disabled"]:
        raise OracleError(f"seat {p['seat']} is free; the task expected it taken")
    ctx.fail(f"seat {p['seat']} is already taken on that train")


# editor --------------------------------------------------------------------------------------------
def _saved(ctx: OracleContext, name: str) -> None:
    ctx.click("save", "Save")
    ctx.wait(lambda s: s["status"] == f"Saved {name}", f"{name} saved")


@solution("write_file")
def write_file(ctx: OracleContext, p: dict[str, Any]) -> None:
    name = f"{p['name']}.txt"
    ctx.fill("name", "File name", name)
    ctx.click("text")  # the text area has no caption of its own
    ctx.type(p["text"])
    _saved(ctx, name)
    ctx.done()


@solution("append_line")
def append_line(ctx: OracleContext, p: dict[str, Any]) -> None:
    s = ctx.wait(lambda st: st["current"], "a file open")
    ctx.click("text")
    ctx.hotkey("ctrl", "end")
    if not s["text"].endswith("\n"):
        ctx.press("enter")
    ctx.type(p["line"])
    _saved(ctx, s["current"])
    ctx.done()


@solution("replace_word")
def replace_word(ctx: OracleContext, p: dict[str, Any]) -> None:
    ctx.fill("name", "File name", "letter.txt")
    ctx.click("open", "Open")
    ctx.wait(lambda s: s["status"] == "Opened letter.txt", "letter.txt open")
    ctx.fill("find", "Find", p["old"])
    ctx.fill("replace_with", "Replace with", p["new"])
    ctx.click("replace_all", "Replace all")
    ctx.wait(lambda s: s["status"].startswith("Replaced"), "the replacement")
    _saved(ctx, "letter.txt")
    ctx.done()


@solution("open_missing")
def open_missing(ctx: OracleContext, p: dict[str, Any]) -> None:
    name = f"{p['name']}.txt"
    ctx.fill("name", "File name", name)
    ctx.click("open", "Open")
    ctx.wait(lambda s: s["status"].startswith("File not found"), "the not-found message")
    ctx.fail(f"{name} does not exist")


# form ----------------------------------------------------------------------------------------------
def _open_countries(ctx: OracleContext, country: str) -> dict:
    """Click the country dropdown and wait until its list is shown (the app reports the items): until
    it shows ``country``, or its report has not changed for a second. On a busy machine the first
    report can come while the list is still being laid out (one row of it)."""
    ctx.click("country", "Country", role="field", target="Country field")
    seen: dict = {"options": None, "since": 0.0}

    def ready(s: dict) -> bool:
        options, now = s["options"], time.monotonic()
        if not options or country in options:
            return bool(options)
        if options != seen["options"]:
            seen.update(options=options, since=now)
        return now - seen["since"] >= 1.0

    return ctx.wait(ready, "the country list open")


def _choose_country(ctx: OracleContext, country: str) -> None:
    from actions.coords import Rect

    s = _open_countries(ctx, country)
    if country not in s["options"]:
        raise OracleError(f"{country} is not offered: {s['options']}")
    x, y, w, _ = s["widgets"]["country"]
    below = Rect(x - 20, y, w + 40, 400)  # the list opens under the field (which shows the same names)
    ctx.click(f"option:{country}", country, role="text", region=below)
    ctx.wait(lambda st: st["values"]["country"] == country and not st["options"], f"{country} chosen")


def _submit(ctx: OracleContext, first: str, last: str, email: str, country: str, *, birth_date: str = "",
            newsletter: bool = False) -> None:
    n = ctx.wait(lambda s: not s["values"]["first_name"], "an empty form")["submissions"]
    ctx.fill("first_name", "First name", first)
    ctx.fill("last_name", "Last name", last)
    ctx.fill("email", "Email", email)
    if birth_date:
        ctx.fill("birth_date", "Date of birth", birth_date)
    _choose_country(ctx, country)
    if newsletter:
        ctx.click("newsletter", "Subscribe to newsletter")
        ctx.wait(lambda s: s["values"]["newsletter"], "the newsletter box ticked")
    ctx.click("terms", "I accept the terms")
    ctx.wait(lambda s: s["values"]["terms"], "the terms box ticked")
    want = {"first_name": first, "last_name": last, "email": email, "birth_date": birth_date}
    ctx.wait(lambda s: all(s["values"][k] == v for k, v in want.items()), "the form shows what was typed")
    ctx.click("save", "Save")
    # the app stores the row, then empties the form (its state is written meanwhile, with the previous
    # message and then "Ready") and only then says "Saved: ... (#id)": wait for that message
    s = ctx.wait(lambda st: st["status"].startswith("Error:")
                 or (st["submissions"] > n and st["status"].startswith("Saved:")
                     and st["status"].endswith(f"(#{st['submissions']})")), "the form saved")
    if s["status"] != f"Saved: {first} {last} (#{n + 1})" or s["submissions"] != n + 1:
        raise OracleError(f"the form did not save: {s['status']}")


@solution("submit_contact")
def submit_contact(ctx: OracleContext, p: dict[str, Any]) -> None:
    _submit(ctx, p["first_name"], p["last_name"], p["email"], p["country"], birth_date=p["birth_date"],
            newsletter=p["newsletter"] == "yes")
    ctx.done()


@solution("submit_two")
def submit_two(ctx: OracleContext, p: dict[str, Any]) -> None:
    for person, country in ((p["first"], p["country1"]), (p["second"], p["country2"])):
        _submit(ctx, *person, country)  # a save empties the form for the next person
    ctx.done()


@solution("country_not_offered")
def country_not_offered(ctx: OracleContext, p: dict[str, Any]) -> None:
    first, last, email = p["person"]
    ctx.fill("first_name", "First name", first)
    ctx.fill("last_name", "Last name", last)
    ctx.fill("email", "Email", email)
    s = _open_countries(ctx, p["country"])
    if p["country"] in s["options"]:
        raise OracleError(f"{p['country']} is offered; the task expected it missing")
    ctx.press("escape")
    ctx.wait(lambda st: not st["options"], "the country list closed")
    ctx.fail(f"the form does not offer {p['country']} as a country (only {', '.join(s['options'])})")


# widgets -------------------------------------------------------------------------------------------
@solution("click_n")
def click_n(ctx: OracleContext, p: dict[str, Any]) -> None:
    for i in range(int(p["n"])):
        ctx.click("button", "Click me")
        ctx.wait(lambda s, i=i: s["clicks"] == i + 1, f"click {i + 1} counted")
    ctx.done()


@solution("type_and_tick")
def type_and_tick(ctx: OracleContext, p: dict[str, Any]) -> None:
    ctx.click("entry")
    ctx.type(p["text"])
    ctx.click("checkbox", "Subscribe")
    ctx.wait(lambda s: s["checked"], "the box ticked")
    ctx.done()
