"""Scripted solutions for the web site's tasks (``tasks/defs/web.yaml``), used like a person would.

Stations go in through the autocomplete: type the first letters, wait for the suggestion list, then
pick the station (a click for From, arrow keys + Enter for To, so both ways are exercised). The date
comes from the calendar: open it, step to the right month with "Next month" / "Previous month",
click the day. Passengers are chosen in the native drop-down by typing the digit. The state file
only tells the script where things are (``grounding=app``) and when the page has changed; every
action is real input through the executor. The Pay click is the one approved risky step.
"""

from __future__ import annotations

from typing import Any

from tasks.oracle import OracleContext, OracleError, solution


def _station(ctx: OracleContext, key: str, label: str, name: str, *, by_keys: bool) -> None:
    prefix = name[:3].lower()
    ctx.fill(key, label, prefix)
    s = ctx.wait(lambda st: (st["suggestions"] or {}).get("field") == key and st["suggestions"]["query"] == prefix
                 and name in st["suggestions"]["items"], f"{name} among the {label} suggestions")
    if by_keys:
        for _ in range(s["suggestions"]["items"].index(name) + 1):
            ctx.press("down")
        ctx.wait(lambda st: (st["suggestions"] or {}).get("active") == name, f"{name} highlighted")
        ctx.press("enter")
    else:
        ctx.click(f"option:{name}", name)
    ctx.wait(lambda st: st["values"][key] == name and not st["suggestions"], f"{name} chosen as {label}")


def _date(ctx: OracleContext, date: str) -> None:
    ctx.click("date_button", "Select a date")
    s = ctx.wait(lambda st: st["calendar"]["open"] and f"day:{st['calendar']['month']}-01" in st["widgets"],
                 "the calendar open")
    for _ in range(12):
        month = s["calendar"]["month"]
        if month == date[:7]:
            break
        key = "month_next" if month < date[:7] else "month_prev"
        if key in s["disabled"]:
            raise OracleError(f"the calendar cannot go to {date[:7]} (at {month})")
        ctx.click(key, s["labels"].get(key))
        s = ctx.wait(lambda st, m=month: st["calendar"]["month"] not in (None, m)
                     and f"day:{st['calendar']['month']}-01" in st["widgets"], "the calendar's month changed")
    day = f"day:{date}"
    if day not in s["widgets"] or day in s["disabled"]:
        raise OracleError(f"{date} cannot be chosen in the calendar")
    ctx.click(day, str(int(date[8:])))
    ctx.wait(lambda st: st["values"]["date"] == date and not st["calendar"]["open"], f"{date} chosen")


def _passengers(ctx: OracleContext, n: int) -> None:
    if ctx.state()["values"]["passengers"] == n:
        return
    ctx.click("passengers", "Passengers")  # opens the native list; typing the digit selects, Enter commits
    ctx.type(str(n))
    ctx.press("enter")
    ctx.wait(lambda st: st["values"]["passengers"] == n and st["focused"] == "passengers", f"{n} passengers")


def _search(ctx: OracleContext, p: dict[str, Any], passengers: int) -> dict:
    ctx.wait(lambda st: st["page"] == "search" and "search" in st["widgets"], "the search page")
    _station(ctx, "from", "From", p["origin"], by_keys=False)
    _station(ctx, "to", "To", p["destination"], by_keys=True)
    _date(ctx, p["date"])
    _passengers(ctx, passengers)
    ctx.click("search", "Search trains")
    return ctx.wait(lambda st: st["page"] == "results" and (st["rows"] or st["message"].startswith("No trains")),
                    "the search results")


def _book(ctx: OracleContext, p: dict[str, Any], s: dict, departure: str, *, seat: str, insurance: bool,
          notes: str, card: str) -> None:
    key = f"select:{departure}"
    if key not in s["widgets"]:
        raise OracleError(f"no {departure} train listed: {[r['departure'] for r in s['rows']]}")
    ctx.click(key, "Select", target=f"Select {departure}")
    ctx.wait(lambda st: st["page"] == "details" and "name" in st["widgets"], "the details page")
    ctx.fill("name", "Full name", p["passenger"])
    ctx.fill("email", "Email", p["email"])
    ctx.click(f"seat:{seat}", seat)
    ctx.wait(lambda st: st["values"]["seat"] == seat, f"seat {seat} chosen")
    if insurance:
        ctx.click("insurance", "Add travel insurance")
        ctx.wait(lambda st: st["values"]["insurance"], "insurance ticked")
    if notes:
        ctx.fill("notes", "Notes", notes)  # a newline in the text is an Enter key: two lines
        ctx.wait(lambda st: st["values"]["notes"] == notes, "the notes typed")
    want = {"name": p["passenger"], "email": p["email"]}
    ctx.wait(lambda st: all(st["values"][k] == v for k, v in want.items()), "the details shown as typed")
    ctx.click("continue", "Continue")
    s = ctx.wait(lambda st: st["page"] == "payment" and "pay" in st["widgets"], "the payment page")
    ctx.fill("card", "Card number", card)
    s = ctx.wait(lambda st: st["values"]["card_digits"] >= 12, "the card number typed")
    ctx.click("pay", s["labels"]["pay"], approve=True, target=s["labels"]["pay"])
    s = ctx.wait(lambda st: st["page"] == "confirmation" and st["reference"], "the booking confirmation",
                 timeout=45)
    ctx.done(f"booked, reference {s['reference']}")


@solution("web_book_ticket")
def web_book_ticket(ctx: OracleContext, p: dict[str, Any]) -> None:
    s = _search(ctx, p, int(p["passengers"]))
    _book(ctx, p, s, p["departure"], seat=p["seat"], insurance=p["insurance"] == "with", notes=p["notes"],
          card=p["card"])


@solution("web_book_cheapest")
def web_book_cheapest(ctx: OracleContext, p: dict[str, Any]) -> None:
    s = _search(ctx, p, 1)
    if not s["rows"]:
        raise OracleError(f"no trains listed: {s['message']}")
    cheapest = min(s["rows"], key=lambda r: r["fare"])  # read off the table the page shows
    _book(ctx, p, s, cheapest["departure"], seat="No preference", insurance=False, notes="",
          card="4111 1111 1111 1111")


@solution("web_search_then_fail")
def web_search_then_fail(ctx: OracleContext, p: dict[str, Any]) -> None:
    s = _search(ctx, p, 1)
    if s["rows"]:
        raise OracleError(f"expected no trains, the site listed {len(s['rows'])}")
    ctx.fail(f"no train runs from {p['origin']} to {p['destination']} on {p['date']}: {s['message']}")
