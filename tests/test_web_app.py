"""The web booking site without a display: its timetable, its sqlite store, its HTTP API and state
file, and the consistency of the web tasks with the site's data (a real server on 127.0.0.1)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from actions.safety import DEFAULT_RISKY_WORDS
from tasks.apps.web import catalog
from tasks.apps.web.server import make_server
from tasks.apps.web.store import BookingError, Store
from tasks.spec import load_specs

TODAY = "2026-12-01"


@pytest.fixture
def site(tmp_path):
    import datetime as dt

    httpd, site = make_server(tmp_path / "w.sqlite", tmp_path / "w.json", today=dt.date.fromisoformat(TODAY))
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield site
    httpd.shutdown()
    httpd.server_close()
    site.store.close()


def get(site, path):
    with urllib.request.urlopen(site.url.rstrip("/") + path, timeout=10) as r:
        return r.status, r.read()


def post(site, path, body):
    req = urllib.request.Request(site.url.rstrip("/") + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def booking(**kw):
    base = {"origin": "Berlin Hbf", "destination": "Munich Hbf", "date": "2026-12-15", "departure": "11:00",
            "passengers": 2, "passenger": "Ada Lovelace", "email": "ada@example.org", "seat": "Window",
            "insurance": True, "notes": "line one\r\nline two", "card": "4111 1111 1111 1111"}
    return base | kw


def test_timetable_is_deterministic_and_fares_vary_by_day():
    a = catalog.trains("Berlin Hbf", "Munich Hbf", "2026-12-15")
    assert a == catalog.trains("Berlin Hbf", "Munich Hbf", "2026-12-15") and len(a) == 6
    assert len({t["departure"] for t in a}) == 6 and [t["departure"] for t in a] == sorted(t["departure"] for t in a)
    back = catalog.trains("Munich Hbf", "Berlin Hbf", "2026-12-15")
    assert back and [t["departure"] for t in back] != [t["departure"] for t in a]
    cheapest = {min(catalog.trains("Paris Nord", "Brussels Midi", f"2026-12-{d:02d}"), key=lambda t: t["fare"])["departure"]
                for d in range(2, 30)}
    assert len(cheapest) > 1, "the cheapest train must differ between days"
    assert catalog.trains("Paris Nord", "Vienna Hbf", "2026-12-15") == []
    assert all(s.isascii() for s in catalog.STATIONS)


def test_orders_and_suggestions():
    rows = catalog.trains("Zurich HB", "Milan Centrale", "2026-12-20")
    by_price = catalog.ordered(rows, "price")
    assert [r["fare"] for r in by_price] == sorted(r["fare"] for r in rows)
    s1, s2 = catalog.ordered(rows, "shuffle:1"), catalog.ordered(rows, "shuffle:2")
    assert s1 == catalog.ordered(rows, "shuffle:1") and sorted(map(str, s1)) == sorted(map(str, rows))
    assert s1 != catalog.ordered(rows, "time") or s2 != catalog.ordered(rows, "time")
    with pytest.raises(ValueError, match="unknown order"):
        catalog.check_order("fastest")
    assert catalog.suggest("ber")[:3] == ["Berlin Hbf", "Berlin Ostbahnhof", "Bern"]
    assert "Lyon Part-Dieu" in catalog.suggest("Par") and catalog.suggest("par")[0].startswith("Paris")
    assert catalog.suggest("  ") == [] and catalog.suggest("xyz") == []


def test_store_validates_and_never_keeps_the_card_number(tmp_path):
    import datetime as dt

    store = Store(tmp_path / "b.sqlite", dt.date.fromisoformat(TODAY))
    done = store.book(booking())
    fare = next(t["fare"] for t in catalog.trains("Berlin Hbf", "Munich Hbf", "2026-12-15") if t["departure"] == "11:00")
    assert done["price"] == round(fare * 2 + 6.5 * 2, 2) and re.fullmatch(r"RG-[A-Z0-9]{6}", done["reference"])
    for bad, why in ((booking(date="2026-11-30"), "date"), (booking(date="2027-03-05"), "date"),
                     (booking(departure="11:01"), "train"), (booking(card="4111 1111 1111 1112"), "card"),
                     (booking(seat="Middle"), "seat"), (booking(email="ada"), "email"), (booking(passengers=0), "1 to 6")):
        with pytest.raises(BookingError, match=why):
            store.book(bad)
    store.close()
    con = sqlite3.connect(tmp_path / "b.sqlite")
    rows = con.execute("SELECT passengers, seat, insurance, notes, card_last4, status FROM bookings").fetchall()
    assert rows == [(2, "Window", 1, "line one\nline two", "1111", "paid")]
    assert b"4111 1111" not in (tmp_path / "b.sqlite").read_bytes() and b"41111111" not in (tmp_path / "b.sqlite").read_bytes()
    n = con.execute("SELECT count(*) FROM trains WHERE date = '2026-12-01'").fetchone()[0]
    assert n == 6 * 2 * len(catalog.ROUTES)
    assert con.execute("SELECT min(date), max(date) FROM trains").fetchone() == ("2026-12-01", "2027-02-28")


def test_api_pages_and_state_file(site):
    status, html = get(site, "/")
    assert status == 200 and b'id="date_button"' in html and b"app.js" in html
    assert all(get(site, f"/static/{f}")[0] == 200 for f in ("app.js", "report.js", "app.css"))
    cfg = json.loads(get(site, "/api/config")[1])
    assert cfg["today"] == TODAY and cfg["last_day"] == "2027-02-28" and "Bern" in cfg["stations"]
    assert json.loads(get(site, "/api/stations?q=ber")[1])["stations"][:2] == ["Berlin Hbf", "Berlin Ostbahnhof"]
    trains = json.loads(get(site, f"/api/trains?from={quote('Bern')}&to={quote('Basel SBB')}&date=2026-12-24")[1])
    assert len(trains["trains"]) == 6
    with pytest.raises(urllib.error.HTTPError) as e:
        get(site, "/api/trains?from=Bern&to=Nowhere&date=2026-12-24")
    assert e.value.code == 400
    assert post(site, "/api/book", booking(card="123"))[0] == 400
    status, done = post(site, "/api/book", booking())
    assert status == 200 and done["reference"].startswith("RG-")
    # layout reports: the newest of a page load wins, even when an older one arrives later
    assert post(site, "/api/state", {"session": "a", "seq": 2, "page": "details", "widgets": {"name": [1, 2, 3, 4]}})[0] == 204
    post(site, "/api/state", {"session": "a", "seq": 1, "page": "search", "widgets": {}})
    state = json.loads(site.state_path.read_text())
    assert state["page"] == "details" and state["widgets"]["name"] == [1, 2, 3, 4]
    assert state["last_ref"] == done["reference"] and state["bookings"] == 1 and state["url"] == site.url
    post(site, "/api/state", {"session": "b", "seq": 1, "page": "search", "widgets": {}})  # a reload
    assert json.loads(site.state_path.read_text())["page"] == "search"
    assert post(site, "/api/state", ["not", "an", "object"])[0] == 400


def test_module_prints_its_url_and_rejects_bad_options(tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "tasks.apps.web", "--db", str(tmp_path / "d.sqlite"), "--state",
                          str(tmp_path / "s.json"), "--today", "2027-01-10", "--order", "shuffle:4"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = p.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        with urllib.request.urlopen(url + "api/config", timeout=10) as r:
            cfg = json.loads(r.read())
        assert cfg["today"] == "2027-01-10" and cfg["order"] == "shuffle:4"
    finally:
        p.terminate()
        assert p.wait(timeout=10) == 0
    bad = subprocess.run([sys.executable, "-m", "tasks.apps.web", "--db", str(tmp_path / "d.sqlite"), "--state",
                          str(tmp_path / "s.json"), "--order", "fastest"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "unknown order" in bad.stderr


def test_web_tasks_agree_with_the_site():
    specs = load_specs()
    web = [s for s in specs.values() if s.app == "web"]
    assert {s.id for s in web} >= {"web.book_ticket", "web.book_cheapest", "web.no_trains"}
    risky = re.compile(r"\b(" + "|".join(DEFAULT_RISKY_WORDS) + ")", re.I)
    for seed in range(12):
        p = specs["web.book_ticket"].instantiate(seed).params
        assert p["departure"] in [t["departure"] for t in catalog.trains(p["origin"], p["destination"], p["date"])]
        assert "\n" in p["notes"] and not risky.search(p["notes"]), "typing the notes must not need approval"
        assert catalog.luhn_ok(p["card"].replace(" ", "")) and p["card"].endswith(p["card_last4"])
        assert catalog.bookable(p["date"], __import__("datetime").date.fromisoformat(TODAY))
        q = specs["web.book_cheapest"].instantiate(seed)
        assert catalog.served(q.params["origin"], q.params["destination"])
        assert q.render(q.spec.setup)["order"].startswith("shuffle:")
        r = specs["web.no_trains"].instantiate(seed).params
        assert {r["origin"], r["destination"]} <= set(catalog.STATIONS) and not catalog.served(r["origin"], r["destination"])
    months = {specs["web.book_ticket"].instantiate(s).params["date"][:7] for s in range(12)}
    assert months >= {"2026-12", "2027-01"}, "some dates need the calendar's next month"
