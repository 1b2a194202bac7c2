"""Rows in, results out: the data file of ``agent fill`` and its results file (CSV and JSON).

The results file is the run's ledger. It is rewritten atomically (and fsync'd, file and folder)
when a row *starts* and when it ends, so a run cut by a crash, ``kill -9``, the kill hotkey or Ctrl-C
still says exactly which rows finished and which one was under way:

* ``ok`` / ``failed``: finished (judged and reported); ``--resume`` skips them (``--retry-failed``
  runs failed rows again).
* ``running``: the row had started when the run was cut. Its effect is unknown — the Save may have
  landed a millisecond before the kill — so a resumed run reads it as ``uncertain``, never as "not
  done": redoing it blindly could store a record twice.
* ``uncertain``: kept until the script's ``already_done`` check decides (or a person passes
  ``--redo-uncertain``); a run that leaves one exits 4, "a person must look".
* ``stopped``: a safety stop before the row's first action; nothing was done, it runs again.

Each entry carries the row's **key** (a data column such as ``email``, see ``key_column``) so a
person can find it, and a resumed run refuses a data file whose keys no longer match the ledger's
(rows reordered or edited: resuming by row number would skip or repeat the wrong people).
Errors in the ledger are masked (``{{secret:...}}`` values never reach it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from actions import secrets

FIELDS = ("row", "key", "status", "error", "note", "step", "duration_s")
FINISHED = ("ok", "failed")
STATUSES = ("ok", "failed", "uncertain", "running", "stopped", "dry-run")
INTERRUPTED = ("the run was cut (killed, crashed or interrupted) while this row was in progress; "
               "whether its effect happened is unknown")
KEY_NAMES = ("id", "key", "email", "e-mail", "username", "user", "name")


@dataclass
class RowResult:
    row: int  # 1-based number of the data row (the CSV header is not a row)
    status: str  # see STATUSES
    error: str | None = None
    step: int | None = None  # the step that failed (1-based)
    duration_s: float = 0.0
    key: str | None = None  # the row's value in the key column
    note: str | None = None  # how a resumed run settled an uncertain row

    def to_json(self) -> dict:
        d = asdict(self)
        d["error"] = secrets.mask(self.error) if self.error else None
        d["key"] = secrets.mask(self.key) if self.key else self.key
        d["duration_s"] = round(self.duration_s, 3)
        return {k: d[k] for k in FIELDS}


class DataError(ValueError):
    """The data file cannot be used."""


def load_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line, as dicts (cells stripped of surrounding spaces)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"{p}: cannot read the data file: {e.strerror or e}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise DataError(f"{p}: no header line (the first line names the columns)")
    rows = []
    for i, r in enumerate(reader, start=1):
        if None in r:
            raise DataError(f"{p}:{reader.line_num}: row {i} has more cells than the header has columns")
        rows.append({k.strip(): (v or "").strip() for k, v in r.items() if k is not None})
    return rows


def key_column(rows: list[dict[str, str]], wanted: str | None = None) -> str | None:
    """The column that names a row for a person: ``wanted`` (it must exist), else the first column
    called id/key/email/username/name whose values are all filled and distinct, else the first such
    column of any name, else the first column."""
    cols = list(rows[0]) if rows else []
    if wanted:
        if rows and wanted not in cols:
            raise DataError(f"the key column {wanted!r} is not in the data (columns: {', '.join(cols)})")
        return wanted
    if not cols:
        return None

    def unique(c: str) -> bool:
        vals = [r.get(c, "") for r in rows]
        return all(vals) and len(set(vals)) == len(vals)

    named = sorted((c for c in cols if c.lower() in KEY_NAMES), key=lambda c: KEY_NAMES.index(c.lower()))
    return next((c for c in named if unique(c)), None) or next((c for c in cols if unique(c)), cols[0])


def _atomic(path: Path, data: str) -> None:
    """Replace ``path`` with ``data`` so that a kill at any moment leaves the old or the new file,
    and once this returns the new one survives a power cut (file and folder fsync'd)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Ledger:
    """``results.json`` + ``results.csv`` in ``folder``, one entry per data row (latest wins)."""

    def __init__(self, folder: Path, meta: dict | None = None) -> None:
        self.folder = folder
        self.json_path, self.csv_path = folder / "results.json", folder / "results.csv"
        self.meta = meta or {}
        self.rows: dict[int, RowResult] = {}
        self.keys: dict[int, str] = {}  # row -> its key, stamped on every entry

    @classmethod
    def load(cls, folder: Path) -> "Ledger":
        """The ledger of an earlier run; a row it left ``running`` comes back ``uncertain``."""
        led = cls(folder)
        if led.json_path.exists():
            try:
                data = json.loads(led.json_path.read_text(encoding="utf-8"))
                led.meta = data.get("meta", {})
                for r in data.get("rows", []):
                    res = RowResult(int(r["row"]), r["status"], r.get("error"), r.get("step"),
                                    float(r.get("duration_s") or 0), r.get("key"), r.get("note"))
                    if res.status == "running":
                        res.status, res.error = "uncertain", INTERRUPTED
                    led.rows[res.row] = res
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise DataError(f"{led.json_path} is unreadable ({e}); cannot resume from it") from None
        return led

    def done(self, retry_failed: bool = False) -> set[int]:
        """Rows that a resumed run skips."""
        keep = ("ok",) if retry_failed else FINISHED
        return {n for n, r in self.rows.items() if r.status in keep}

    def uncertain(self) -> set[int]:
        """Rows whose effect is unknown: a person, the script's ``already_done`` check or
        ``--redo-uncertain`` must decide."""
        return {n for n, r in self.rows.items() if r.status in ("uncertain", "running")}

    def check_keys(self, rows: list[dict[str, str]], column: str | None) -> None:
        """Refuse to resume over a data file whose rows no longer match this ledger's keys."""
        if not column or self.meta.get("key_column") != column:
            return
        for n, r in sorted(self.rows.items()):
            if r.key is None:
                continue
            now = rows[n - 1].get(column) if n <= len(rows) else None
            if now != r.key and secrets.mask(now or "") != r.key:
                raise DataError(f"the data changed since this run: row {n} was {column}={r.key!r}, now "
                                f"{'missing' if now is None else repr(now)}; resuming by row number would skip or "
                                "repeat the wrong rows (restore the data file or start a new --out)")

    def start(self, n: int) -> None:
        """Mark row ``n`` in progress, durably, before its first action (``results.json`` is what a
        resume reads; the CSV view follows when the row ends)."""
        self.record(RowResult(n, "running"), csv_too=False)

    def record(self, result: RowResult, csv_too: bool = True) -> None:
        if result.key is None:
            result.key = self.keys.get(result.row)
        self.rows[result.row] = result
        self.write(csv_too)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.rows.values() if r.status == s) for s in STATUSES}

    def write(self, csv_too: bool = True) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = [self.rows[n].to_json() for n in sorted(self.rows)]
        _atomic(self.json_path, json.dumps({"meta": self.meta, "counts": self.counts(), "rows": rows}, indent=1) + "\n")
        if not csv_too:
            return
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else r[k]) for k in FIELDS})
        _atomic(self.csv_path, buf.getvalue())
