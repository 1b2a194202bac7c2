"""The web site's sqlite file: the ``bookings`` it took and the ``trains`` timetable it offered.

Evaluators read this file, never the agent's claim. The timetable is written for the whole booking
horizon when the server starts, so a check can ask "was the booked train the cheapest that day?" in
SQL. Only a payment inserts a booking, with ``status = 'paid'``; the card number is never stored,
only its last four digits.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import threading
from pathlib import Path

from tasks.apps.web import catalog

BOOKINGS = """CREATE TABLE IF NOT EXISTS bookings (
    id INTEGER PRIMARY KEY, reference TEXT NOT NULL UNIQUE, origin TEXT, destination TEXT, date TEXT,
    departure TEXT, arrival TEXT, passengers INTEGER, price REAL, passenger TEXT, email TEXT, seat TEXT,
    insurance INTEGER, notes TEXT, card_last4 TEXT, status TEXT, created TEXT)"""
TRAINS = """CREATE TABLE IF NOT EXISTS trains (
    origin TEXT, destination TEXT, date TEXT, departure TEXT, arrival TEXT, duration_min INTEGER,
    changes INTEGER, fare REAL, PRIMARY KEY (origin, destination, date, departure))"""
SEATS = ("Window", "Aisle", "No preference")


class BookingError(ValueError):
    """A booking request the site refuses (the message is shown on the page)."""


class Store:
    """One sqlite connection shared by the server's threads (serialised by a lock)."""

    def __init__(self, path: str | Path, today: dt.date) -> None:
        self.path, self.today = Path(path), today
        self._lock = threading.Lock()
        self.con = sqlite3.connect(str(self.path), check_same_thread=False)
        self.con.execute(BOOKINGS)
        self.con.execute(TRAINS)
        self._timetable()
        self.con.commit()

    def _timetable(self) -> None:
        rows = []
        for a, b, _ in catalog.ROUTES:
            for x, y in ((a, b), (b, a)):
                for i in range(catalog.HORIZON_DAYS):
                    date = (self.today + dt.timedelta(days=i)).isoformat()
                    rows += [(t["origin"], t["destination"], date, t["departure"], t["arrival"], t["duration_min"],
                              t["changes"], t["fare"]) for t in catalog.trains(x, y, date)]
        self.con.executemany("INSERT OR IGNORE INTO trains VALUES (?,?,?,?,?,?,?,?)", rows)

    def book(self, req: dict) -> dict:
        """Validate a payment request and store it as a paid booking; ``BookingError`` says why not."""
        origin, dest, date = str(req.get("origin", "")), str(req.get("destination", "")), str(req.get("date", ""))
        if not catalog.bookable(date, self.today):
            raise BookingError("That date cannot be booked")
        train = next((t for t in catalog.trains(origin, dest, date) if t["departure"] == req.get("departure")), None)
        if train is None:
            raise BookingError("That train does not exist")
        try:
            passengers = int(req.get("passengers", 1))
        except (TypeError, ValueError):
            passengers = 0
        if not 1 <= passengers <= 6:
            raise BookingError("Choose 1 to 6 passengers")
        name, email = str(req.get("passenger", "")).strip(), str(req.get("email", "")).strip()
        if not name or "@" not in email or "." not in email.split("@")[-1]:
            raise BookingError("Enter the passenger's full name and a valid email")
        seat = req.get("seat")
        if seat not in SEATS:
            raise BookingError("Choose a seat preference")
        digits = "".join(ch for ch in str(req.get("card", "")) if ch.isdigit())
        if not catalog.luhn_ok(digits):
            raise BookingError("The card number is not valid")
        insurance = bool(req.get("insurance"))
        price = catalog.total(train["fare"], passengers, insurance)
        notes = str(req.get("notes", "")).replace("\r\n", "\n")[:2000]
        with self._lock:
            ref = "RG-" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
            self.con.execute(
                "INSERT INTO bookings (reference, origin, destination, date, departure, arrival, passengers, price, "
                "passenger, email, seat, insurance, notes, card_last4, status, created) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (ref, origin, dest, date, train["departure"], train["arrival"], passengers, price, name, email, seat,
                 int(insurance), notes, digits[-4:], "paid", dt.datetime.now().isoformat(timespec="seconds")))
            self.con.commit()
        return {"reference": ref, "price": price}

    def count(self) -> int:
        with self._lock:
            return self.con.execute("SELECT count(*) FROM bookings").fetchone()[0]

    def close(self) -> None:
        self.con.close()
