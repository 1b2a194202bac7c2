"""A person booking a ticket on Rail&Go (``tasks/apps/web``) with xdotool, at about one action a
second, for the record/replay tests and ``bench/replay.py``. It aims at the boxes the page reports in
its state file and waits for the page's own state (a suggestion listed, the calendar open, the results
in) the way a person looks before acting — never on fixed sleeps alone.

The booking: stations through the autocomplete (three letters typed, the suggestion clicked), the day
from the calendar (paging to its month), passengers from the native list (the digit typed, Enter),
the train by its row's Select button, name, email, a seat, insurance, the card number, Pay, and then
"New search" (so a fill script exported from it runs row after row).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

CARD = "4111 1111 1111 1111"


@dataclass(frozen=True)
class Booking:
    origin: str = "Paris Nord"
    destination: str = "Brussels Midi"
    date: str = "2026-12-15"
    passengers: int = 2
    departure: str = "14:00"
    passenger: str = "Ada Lovelace"
    email: str = "ada@example.org"
    seat: str = "Window"
    insurance: bool = True

    def row(self) -> tuple:
        """The booking as the site's sqlite stores it (see ``stored``)."""
        return (self.origin, self.destination, self.date, self.departure, self.passengers, self.passenger,
                self.email, self.seat, int(self.insurance), CARD[-4:])


def stored(db) -> list[tuple]:  # noqa: ANN001 - a path
    """Every booking in the site's sqlite file, in ``Booking.row`` form."""
    import sqlite3

    con = sqlite3.connect(str(db))
    try:
        return con.execute("SELECT origin, destination, date, departure, passengers, passenger, email, seat, "
                           "insurance, card_last4 FROM bookings ORDER BY id").fetchall()
    finally:
        con.close()


class WebPerson:
    """Drives ``site`` (a ``tasks.apps.web.launch.Site``) on the display of ``env``."""

    def __init__(self, site, env: dict, pause: float = 0.7, timeout: float = 60.0) -> None:  # noqa: ANN001
        self.site, self.env, self.pause, self.timeout = site, env, pause, timeout
        self.actions = 0

    def wait(self, pred, what: str) -> dict:  # noqa: ANN001
        deadline = time.monotonic() + self.timeout
        while True:
            s = self.site.state()
            try:
                if pred(s):
                    return s
            except (KeyError, TypeError, IndexError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {what} (page {s.get('page')}, message "
                                     f"{s.get('message')!r})")
            time.sleep(0.05)

    def xdo(self, *args: str, pause: float | None = None) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True)
        time.sleep(self.pause if pause is None else pause)

    def click(self, key: str) -> None:
        x, y, w, h = self.wait(lambda s: key in s["widgets"], f"the element {key}")["widgets"][key]
        self.xdo("mousemove", str(x + w // 2), str(y + h // 2), pause=0.15)
        self.xdo("click", "1")
        self.actions += 1

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", "60", text)
        self.actions += 1

    def key(self, name: str) -> None:
        self.xdo("key", name)
        self.actions += 1

    def book(self, b: Booking, *, new_search: bool = True) -> float:
        """Make the booking; returns the seconds from the first action to the confirmation."""
        t0 = time.monotonic()
        self.wait(lambda s: s["page"] == "search" and "search" in s["widgets"], "the search page")
        for key, name in (("from", b.origin), ("to", b.destination)):
            self.click(key)
            self.type(name[:3].lower())
            self.wait(lambda s: name in (s["suggestions"] or {}).get("items", []), f"{name} suggested")
            self.click(f"option:{name}")
            self.wait(lambda s: s["values"][key] == name, f"{name} chosen")
        self.click("date_button")
        s = self.wait(lambda s: s["calendar"]["open"], "the calendar")
        while s["calendar"]["month"] != b.date[:7]:
            month = s["calendar"]["month"]
            self.click("month_next" if month < b.date[:7] else "month_prev")
            s = self.wait(lambda st: st["calendar"]["month"] not in (None, month), "another month")
        self.click(f"day:{b.date}")
        self.wait(lambda s: s["values"]["date"] == b.date, "the day chosen")
        if b.passengers != 1:
            self.click("passengers")
            self.type(str(b.passengers))
            self.key("Return")
            self.wait(lambda s: s["values"]["passengers"] == b.passengers, "the passengers chosen")
        self.click("search")
        self.wait(lambda s: s["page"] == "results" and s["rows"], "the results")
        self.click(f"select:{b.departure}")
        self.wait(lambda s: s["page"] == "details", "the details page")
        self.click("name")
        self.type(b.passenger)
        self.click("email")
        self.type(b.email)
        self.click(f"seat:{b.seat}")
        if b.insurance:
            self.click("insurance")
        self.wait(lambda s: s["values"]["email"] == b.email and s["values"]["seat"] == b.seat, "the details typed")
        self.click("continue")
        self.wait(lambda s: s["page"] == "payment", "the payment page")
        self.click("card")
        self.type(CARD)
        self.click("pay")
        self.wait(lambda s: s["page"] == "confirmation" and s["reference"], "the confirmation")
        took = time.monotonic() - t0
        if new_search:
            self.click("new_search")
            self.wait(lambda s: s["page"] == "search", "a new search")
        return took
