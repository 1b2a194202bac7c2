"""Rail&Go, the bundled web booking site: a local HTTP server, a sqlite store, a small JSON API.

    python -m tasks.apps.web --db /tmp/web.sqlite --state /tmp/web.json [--port 0] [--today 2026-12-01]
                             [--order time|price|shuffle:SEED]

prints ``http://127.0.0.1:PORT/`` and serves until interrupted. Open it in Chromium (or let
``tasks.apps.web.launch`` do that). ``--today`` is the site's idea of today: the calendar opens on
that month and earlier days cannot be chosen; ``--order`` sets the results table's row order. Both
exist so a recorded session can be replayed against a site that looks different.

API (JSON): ``GET /api/config``, ``GET /api/stations?q=ber``, ``GET /api/trains?from=&to=&date=``,
``POST /api/book`` (the payment: the only request that stores a booking), ``POST /api/state`` (the
page's own layout report, which the server merges with what it knows and writes atomically to the
state file, like the Tk apps' ``tasks.apps.state``). Only 127.0.0.1; request bodies are never logged
(the payment carries a card number).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tasks.apps.state import write_state
from tasks.apps.web import catalog
from tasks.apps.web.store import BookingError, Store

STATIC = Path(__file__).parent / "static"
FILES = {"/": "index.html", "/index.html": "index.html", "/static/app.js": "app.js", "/static/app.css": "app.css",
         "/static/report.js": "report.js"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
MAX_BODY = 256 * 1024


class Site:
    """What the handlers share: settings, the store, and the latest layout report."""

    def __init__(self, db: Path, state_path: Path, today: dt.date, order: str) -> None:
        self.today, self.order = today, catalog.check_order(order)
        self.store = Store(db, today)
        self.state_path = state_path
        self.url = ""
        self.report: dict = {}
        self.reports = 0
        self.last_ref: str | None = None
        self.page_requests = 0
        self._lock = threading.Lock()
        self._session, self._seq = None, 0

    def config(self) -> dict:
        last = self.today + dt.timedelta(days=catalog.HORIZON_DAYS - 1)
        return {"today": self.today.isoformat(), "last_day": last.isoformat(), "order": self.order,
                "stations": list(catalog.STATIONS), "insurance": catalog.INSURANCE_PER_PASSENGER}

    def trains(self, origin: str, destination: str, date: str) -> list[dict]:
        if origin not in catalog.STATIONS or destination not in catalog.STATIONS:
            raise BookingError("Unknown station")
        if not catalog.bookable(date, self.today):
            raise BookingError("That date cannot be booked")
        return catalog.ordered(catalog.trains(origin, destination, date), self.order)

    def accept_report(self, report: dict) -> None:
        """Keep the newest report of the newest page load (requests may arrive out of order)."""
        with self._lock:
            session, seq = report.get("session"), int(report.get("seq") or 0)
            if session == self._session and seq <= self._seq:
                return
            self._session, self._seq = session, seq
            self.report = {k: v for k, v in report.items() if k not in ("session", "seq")}
            self.reports += 1
            self._write()

    def booked(self, ref: str) -> None:
        with self._lock:
            self.last_ref = ref
            self._write()

    def write(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        state = {"page": None, "message": "", "widgets": {}, "disabled": [], **self.report,
                 "url": self.url, "today": self.today.isoformat(), "order": self.order, "reports": self.reports,
                 "seq": self._seq, "page_requests": self.page_requests, "last_ref": self.last_ref,
                 "bookings": self.store.count()}
        write_state(self.state_path, state)


class Handler(BaseHTTPRequestHandler):
    server_version = "RailAndGo/1.0"
    site: Site  # set on the subclass made by make_server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # no request log: quiet, and nothing of a request body could ever end up in one

    def _json(self, obj: object, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, message: str, status: int = 400) -> None:
        self._json({"error": message}, status)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path in FILES:
            path = STATIC / FILES[url.path]
            data = path.read_bytes()
            if url.path in ("/", "/index.html"):
                self.site.page_requests += 1
            self.send_response(200)
            self.send_header("Content-Type", TYPES[path.suffix])
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)
        elif url.path == "/api/config":
            self._json(self.site.config())
        elif url.path == "/api/stations":
            self._json({"query": q.get("q", ""), "stations": catalog.suggest(q.get("q", ""))})
        elif url.path == "/api/trains":
            try:
                self._json({"trains": self.site.trains(q.get("from", ""), q.get("to", ""), q.get("date", ""))})
            except BookingError as e:
                self._error(str(e))
        elif url.path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        else:
            self._error("not found", 404)

    def do_POST(self) -> None:  # noqa: N802
        try:
            n = int(self.headers.get("Content-Length") or 0)
            if not 0 < n <= MAX_BODY:
                return self._error("missing or oversized body", 413 if n else 400)
            body = json.loads(self.rfile.read(n))
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            return self._error("the body must be a JSON object")
        path = urlsplit(self.path).path
        if path == "/api/state":
            self.site.accept_report(body)
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        elif path == "/api/book":
            try:
                done = self.site.store.book(body)
            except BookingError as e:
                return self._error(str(e))
            self.site.booked(done["reference"])
            self._json(done)
        else:
            self._error("not found", 404)


def make_server(db: Path, state: Path, *, port: int = 0, today: dt.date | None = None,
                order: str = "time") -> tuple[ThreadingHTTPServer, Site]:
    site = Site(db, state, today or dt.date.today(), order)
    handler = type("SiteHandler", (Handler,), {"site": site})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    site.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    site.write()
    return httpd, site


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.apps.web", description="Rail&Go, the bundled web booking site.")
    ap.add_argument("--db", required=True, type=Path, help="sqlite file for bookings (and the timetable)")
    ap.add_argument("--state", required=True, type=Path, help="JSON file rewritten on every page change")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = a free one)")
    ap.add_argument("--today", type=dt.date.fromisoformat, default=None, help="the site's today, YYYY-MM-DD")
    ap.add_argument("--order", default="time", help="results order: time, price or shuffle:SEED")
    args = ap.parse_args(argv)
    try:
        httpd, site = make_server(args.db, args.state, port=args.port, today=args.today, order=args.order)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(site.url, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        site.store.close()
    return 0
