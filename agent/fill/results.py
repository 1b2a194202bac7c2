"""Rows in, results out: the data file of ``agent fill`` and its results file (CSV and JSON).

The results file is the run's ledger. It is rewritten atomically after every row, so a run cut by
a crash, the kill hotkey or Ctrl-C still says exactly which rows finished; ``--resume`` reads it
back and continues after the last finished row (ok or failed — a failed row is *finished*: it was
judged and reported; ``--retry-failed`` runs those again). A row interrupted mid-way by a safety
stop is ``stopped``, not finished, and runs again on resume.

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

FIELDS = ("row", "status", "error", "step", "duration_s")
FINISHED = ("ok", "failed")


@dataclass
class RowResult:
    row: int  # 1-based number of the data row (the CSV header is not a row)
    status: str  # ok | failed | stopped | dry-run
    error: str | None = None
    step: int | None = None  # the step that failed (1-based)
    duration_s: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["error"] = secrets.mask(self.error) if self.error else None
        d["duration_s"] = round(self.duration_s, 3)
        return d


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


def _atomic(path: Path, data: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Ledger:
    """``results.json`` + ``results.csv`` in ``folder``, one entry per data row (latest wins)."""

    def __init__(self, folder: Path, meta: dict | None = None) -> None:
        self.folder = folder
        self.json_path, self.csv_path = folder / "results.json", folder / "results.csv"
        self.meta = meta or {}
        self.rows: dict[int, RowResult] = {}

    @classmethod
    def load(cls, folder: Path) -> "Ledger":
        led = cls(folder)
        if led.json_path.exists():
            try:
                data = json.loads(led.json_path.read_text(encoding="utf-8"))
                led.meta = data.get("meta", {})
                for r in data.get("rows", []):
                    led.rows[int(r["row"])] = RowResult(int(r["row"]), r["status"], r.get("error"), r.get("step"),
                                                        float(r.get("duration_s") or 0))
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(f"{led.json_path} is unreadable ({e}); cannot resume from it") from None
        return led

    def done(self, retry_failed: bool = False) -> set[int]:
        """Rows that a resumed run skips."""
        keep = ("ok",) if retry_failed else FINISHED
        return {n for n, r in self.rows.items() if r.status in keep}

    def record(self, result: RowResult) -> None:
        self.rows[result.row] = result
        self.write()

    def write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = [self.rows[n].to_json() for n in sorted(self.rows)]
        counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "failed", "stopped", "dry-run")}
        _atomic(self.json_path, json.dumps({"meta": self.meta, "counts": counts, "rows": rows}, indent=1) + "\n")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else r[k]) for k in FIELDS})
        _atomic(self.csv_path, buf.getvalue())
