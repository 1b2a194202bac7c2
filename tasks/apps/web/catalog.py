"""The web booking site's world: stations, which pairs are served, the daily timetable and its fares.

Everything is a pure function of (route, date) so tasks can be drawn from a seed and checked later:
every served route has six trains a day at route-specific times, one or two of them with a change
(slower, cheaper); a fare depends on the route's length, the hour (peaks cost more) and the date
(weekends and a per-day factor), so the cheapest train differs from day to day and a task like "book
the cheapest" really needs the results table. The server writes the timetable into the sqlite file
(``trains`` table) so evaluators can ask the same question of the data with SQL.

Names are ASCII on purpose: the executor types them through the keyboard.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib

STATIONS: tuple[str, ...] = (
    "Amsterdam Centraal", "Antwerp Central", "Basel SBB", "Berlin Hbf", "Berlin Ostbahnhof", "Bern",
    "Bologna Centrale", "Brussels Midi", "Cologne Hbf", "Frankfurt Hbf", "Geneva Cornavin", "Hamburg Hbf",
    "Lyon Part-Dieu", "Marseille St-Charles", "Milan Centrale", "Munich Hbf", "Paris Est",
    "Paris Gare de Lyon", "Paris Nord", "Prague Main Station", "Rotterdam Centraal", "Strasbourg",
    "Turin Porta Nuova", "Vienna Hbf", "Zurich HB",
)

#: (a, b, minutes of the direct trip): served in both directions. Any other pair has no trains.
ROUTES: tuple[tuple[str, str, int], ...] = (
    ("Paris Nord", "Brussels Midi", 82), ("Paris Nord", "Amsterdam Centraal", 200),
    ("Brussels Midi", "Cologne Hbf", 113), ("Amsterdam Centraal", "Berlin Hbf", 372),
    ("Berlin Hbf", "Hamburg Hbf", 105), ("Berlin Hbf", "Munich Hbf", 245),
    ("Berlin Ostbahnhof", "Prague Main Station", 262), ("Frankfurt Hbf", "Paris Est", 232),
    ("Munich Hbf", "Vienna Hbf", 240), ("Zurich HB", "Milan Centrale", 197),
    ("Paris Gare de Lyon", "Lyon Part-Dieu", 117), ("Lyon Part-Dieu", "Marseille St-Charles", 100),
    ("Paris Gare de Lyon", "Geneva Cornavin", 190), ("Basel SBB", "Bern", 55), ("Zurich HB", "Bern", 56),
    ("Milan Centrale", "Bologna Centrale", 62), ("Strasbourg", "Paris Est", 108),
    ("Rotterdam Centraal", "Antwerp Central", 58), ("Turin Porta Nuova", "Paris Gare de Lyon", 340),
    ("Hamburg Hbf", "Cologne Hbf", 240),
)
HORIZON_DAYS = 90  # bookable from today to today + 89
INSURANCE_PER_PASSENGER = 6.50
ORDERS = ("time", "price")  # plus "shuffle:SEED"


def _route(a: str, b: str) -> int | None:
    for x, y, minutes in ROUTES:
        if (a, b) in ((x, y), (y, x)):
            return minutes
    return None


def served(a: str, b: str) -> bool:
    return _route(a, b) is not None


def suggest(query: str, limit: int = 8) -> list[str]:
    """Stations with a word starting with ``query`` (case-insensitive), whole-name prefixes first."""
    q = " ".join(query.lower().split())
    if not q:
        return []
    first = [s for s in STATIONS if s.lower().startswith(q)]
    words = [s for s in STATIONS if s not in first and any(w.startswith(q) for w in s.lower().replace("-", " ").split())]
    return (first + words)[:limit]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


def trains(a: str, b: str, date: str) -> list[dict]:
    """The day's trains from ``a`` to ``b`` in departure order (empty when the pair is not served)."""
    minutes = _route(a, b)
    if minutes is None:
        return []
    day = dt.date.fromisoformat(date)
    rng = random.Random(_seed("timetable", *sorted((a, b)), a))  # same times every day, differ per direction
    first = 6 * 60 + rng.randrange(0, 50, 5)
    gaps = [rng.choice((95, 120, 135, 150, 170)) for _ in range(5)]
    changes = {rng.randrange(6), rng.randrange(6)}
    km_fare = 18 + minutes * 0.26
    weekend = 1.15 if day.weekday() >= 4 else 1.0
    out, t = [], first
    for i in range(6):
        if i:
            t += gaps[i - 1]
        n_changes = 1 if i in changes else 0
        duration = minutes + (37 + rng.randrange(0, 40, 5) if n_changes else 0)
        hour = t // 60
        peak = 1.25 if 7 <= hour < 9 or 16 <= hour < 19 else 1.0
        daily = 0.8 + (_seed("fare", a, b, date, i) % 45) / 100  # 0.80 .. 1.24, per train and day
        fare = km_fare * peak * weekend * daily * (0.78 if n_changes else 1.0)
        out.append({"departure": _hhmm(t), "arrival": _hhmm(t + duration), "duration_min": duration,
                    "duration": f"{duration // 60}h {duration % 60:02d}m", "changes": n_changes,
                    "fare": round(int(fare) + 0.90, 2), "origin": a, "destination": b, "date": date})
    return out


def ordered(rows: list[dict], order: str) -> list[dict]:
    """The results table's row order: by departure, by fare, or a seeded shuffle (``shuffle:7``)."""
    if order == "time":
        return sorted(rows, key=lambda r: r["departure"])
    if order == "price":
        return sorted(rows, key=lambda r: (r["fare"], r["departure"]))
    if order.startswith("shuffle:"):
        out = sorted(rows, key=lambda r: r["departure"])
        key = rows[0]["origin"] + rows[0]["destination"] + rows[0]["date"] if rows else ""
        random.Random(f"{order[8:]}:{key}").shuffle(out)
        return out
    raise ValueError(f"unknown order {order!r}: use time, price or shuffle:SEED")


def check_order(order: str) -> str:
    if order in ORDERS or (order.startswith("shuffle:") and order[8:].strip()):
        return order
    raise ValueError(f"unknown order {order!r}: use time, price or shuffle:SEED")


def total(fare: float, passengers: int, insurance: bool) -> float:
    return round(fare * passengers + (INSURANCE_PER_PASSENGER * passengers if insurance else 0.0), 2)


def bookable(date: str, today: dt.date) -> bool:
    try:
        d = dt.date.fromisoformat(date)
    except ValueError:
        return False
    return today <= d < today + dt.timedelta(days=HORIZON_DAYS)


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    s = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch) * (2 if i % 2 else 1)
        s += v - 9 if v > 9 else v
    return s % 10 == 0
