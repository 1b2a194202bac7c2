"""Trajectory folders: the on-disk record shared by ``agent run``, ``fill``, ``record`` and ``replay``.

A trajectory is a folder holding
* ``meta.json``      written at the start: kind (run/fill/record), tool version, created time, and
                     whatever the caller adds (goal, screen size ...);
* ``steps.jsonl``    one JSON object per step, appended, flushed and fsync'd as each step happens, so
                     a recording cut by ``kill -9`` keeps every complete step;
* ``images/``        screenshots, e.g. ``images/000003-before.png``;
* ``manifest.json``  written last (``close``): SHA-256 and size of every other file, the step count,
                     start/finish times and the caller's ``status`` dict. Its presence means *sealed*.

Every step and the meta pass through ``actions.secrets.scrub_obj`` before they are written, so a live
secret value never lands in a file while ``{{secret:NAME}}`` placeholders stay replayable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from actions.secrets import mask, scrub_obj

STEPS, META, MANIFEST, IMAGES = "steps.jsonl", "meta.json", "manifest.json", "images"
FORMAT_VERSION = 1
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")
_SAFE_EXT = re.compile(r"^[A-Za-z0-9]+$")


class TrajectoryError(Exception):
    """A trajectory folder cannot be created, appended to or read."""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _tool_version() -> str:
    try:
        return metadata.version("desk-agent")
    except metadata.PackageNotFoundError:
        return "unknown"


def _default(o):
    if isinstance(o, Path):
        return o.as_posix()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _dumps(obj, indent: int | None = None) -> str:
    """Scrubbed JSON text: ``ensure_ascii=False``, keys in the caller's order."""
    try:
        return json.dumps(scrub_obj(obj), ensure_ascii=False, sort_keys=False, indent=indent, default=_default)
    except (TypeError, ValueError) as exc:
        raise TrajectoryError(f"cannot serialise to JSON: {exc}") from exc


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + fsync + ``os.replace``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename durable too (POSIX only; best effort)
        fd = os.open(path.parent, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    except OSError:
        pass


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _parse_steps(data: bytes) -> tuple[list[dict], int | None, list[str], int]:
    """Parse ``steps.jsonl`` bytes -> (steps, torn_line, problems, byte length of the good prefix).

    A final line that does not parse (with or without its newline) is *torn*: skipped and reported.
    A bad line elsewhere is reported with its 1-based number and skipped; reading goes on.
    """
    steps: list[dict] = []
    problems: list[str] = []
    torn: int | None = None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the empty tail after a final newline
    good_end = pos = 0
    for n, raw in enumerate(lines, start=1):
        pos += len(raw) + 1
        if not raw.strip():
            problems.append(f"{STEPS} line {n}: blank line")
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError(f"a JSON {type(obj).__name__}, not an object")
        except (UnicodeDecodeError, ValueError) as exc:
            if n == len(lines):
                torn = n
                problems.append(f"{STEPS} line {n}: torn final line skipped (recording cut short?)")
            else:
                problems.append(f"{STEPS} line {n}: garbled line skipped ({exc})")
            continue
        steps.append(obj)
        good_end = min(pos, len(data))
    return steps, torn, problems, good_end


class TrajectoryWriter:
    """Writes one trajectory folder. Use as a context manager, or call ``close`` yourself.

    ``append=True`` opens an existing trajectory to continue it (``--resume``): a torn final line is
    cut off, the index continues after the last complete step, ``meta.json`` is kept as it is and a
    stale ``manifest.json`` is removed (a new one is written on ``close``). Without ``append``, a
    folder that already holds ``steps.jsonl`` is refused with ``TrajectoryError``.
    """

    def __init__(self, folder: str | Path, *, kind: str, meta: dict | None = None, append: bool = False):
        self._folder, self._closed, self._count, self._next = Path(folder), False, 0, 0
        self._manifest_path = self._folder / MANIFEST
        steps_path = self._folder / STEPS
        if steps_path.exists() and not append:
            raise TrajectoryError(f"{self._folder} already holds a trajectory ({STEPS}); "
                                  "pick a new folder or pass append=True to resume it")
        self._folder.mkdir(parents=True, exist_ok=True)
        (self._folder / IMAGES).mkdir(exist_ok=True)
        if steps_path.exists():  # append=True on an existing trajectory
            data = steps_path.read_bytes()
            steps, _torn, _problems, good_end = _parse_steps(data)
            with open(steps_path, "r+b") as f:
                f.truncate(good_end)
                if good_end and data[good_end - 1 : good_end] != b"\n":
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
            self._count = len(steps)
            indices = [s["index"] for s in steps if isinstance(s.get("index"), int)]
            self._next = max([*indices, len(steps) - 1]) + 1 if steps else 0
            self._manifest_path.unlink(missing_ok=True)
        meta_path = self._folder / META
        if meta_path.exists() and append:
            try:
                self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise TrajectoryError(f"{meta_path} is unreadable: {exc}") from exc
        else:
            self.meta = scrub_obj({"kind": kind, "created": _now_iso(), "created_t": time.time(),
                                   "tool": "desk-agent", "tool_version": _tool_version(),
                                   "format": FORMAT_VERSION, **(meta or {})})
            _write_atomic(meta_path, (_dumps(self.meta) + "\n").encode("utf-8"))
        self._started = _now_iso()
        self._file = open(steps_path, "ab")

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def steps_written(self) -> int:
        """Complete steps in ``steps.jsonl``, including those kept from before when appending."""
        return self._count

    def _check_open(self) -> None:
        if self._closed:
            raise TrajectoryError(f"trajectory {self._folder} is already closed")

    def add_image(self, data: bytes, *, step: int, label: str, ext: str) -> str:
        """Write ``images/{step:06d}-{label}.{ext}`` (atomically) and return its relative posix path."""
        self._check_open()
        if not isinstance(step, int) or step < 0:
            raise TrajectoryError(f"bad step number {step!r}")
        ext = ext.lstrip(".")
        if not _SAFE_LABEL.match(label) or not _SAFE_EXT.match(ext):
            raise TrajectoryError(f"bad image label/ext {label!r}/{ext!r}: use letters, digits, _ and -")
        rel = f"{IMAGES}/{step:06d}-{label}.{ext}"
        _write_atomic(self._folder / rel, bytes(data))
        return rel

    def append(self, step: dict) -> int:
        """Write one step as one line (flush + fsync) and return its index.

        Adds ``index`` (0-based, monotonic) and ``t`` (``time.time()``) when missing; a given index
        must not go backwards. Secret values are scrubbed first. The caller's dict is not changed.
        """
        self._check_open()
        rec = dict(step)
        idx = rec.setdefault("index", self._next)
        if not isinstance(idx, int) or idx < self._next:
            raise TrajectoryError(f"step index {idx!r} is not >= the next index {self._next}")
        rec.setdefault("t", time.time())
        line = (_dumps(rec) + "\n").encode("utf-8")
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._next, self._count = idx + 1, self._count + 1
        return idx

    def close(self, status: dict | None = None) -> Path:
        """Seal the trajectory: write ``manifest.json`` atomically and return its path. Idempotent."""
        if self._closed:
            return self._manifest_path
        self._file.close()
        files = {}
        for p in sorted(self._folder.rglob("*")):
            rel = p.relative_to(self._folder).as_posix()
            if p.is_file() and rel != MANIFEST:
                files[rel] = {"sha256": _sha256(p), "bytes": p.stat().st_size}
        manifest = {"format": FORMAT_VERSION, "kind": self.meta.get("kind"), "steps": self._count,
                    "started": self.meta.get("created", self._started), "session_started": self._started,
                    "finished": _now_iso(), "status": status or {}, "files": files}
        _write_atomic(self._manifest_path, (_dumps(manifest, indent=1) + "\n").encode("utf-8"))
        self._closed = True
        return self._manifest_path

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close({"ok": True})
        else:
            self.close({"ok": False, "error": mask(f"{exc_type.__name__}: {exc}")})


@dataclass(frozen=True)
class Trajectory:
    """A trajectory as read back. ``torn_line`` is the 1-based number of a torn final line, if any."""

    folder: Path
    meta: dict
    steps: list[dict]
    manifest: dict | None
    torn_line: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def sealed(self) -> bool:
        """True when ``manifest.json`` was written (the recording was closed properly)."""
        return self.manifest is not None


def _read_json(path: Path, problems: list[str]) -> dict | None:
    """A JSON object file, or None (absent; or unreadable, then a problem is noted)."""
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name}: unreadable ({exc})")
        return None
    if not isinstance(obj, dict):
        problems.append(f"{path.name}: not a JSON object")
    return obj if isinstance(obj, dict) else None


def read_trajectory(folder: str | Path) -> Trajectory:
    """Read a trajectory folder, tolerating a torn last line (``kill -9``) and garbled lines."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrajectoryError(f"no trajectory folder at {folder}")
    steps_path = folder / STEPS
    if not steps_path.is_file():
        raise TrajectoryError(f"{folder} is not a trajectory: {STEPS} is missing")
    steps, torn, problems, _ = _parse_steps(steps_path.read_bytes())
    meta = _read_json(folder / META, problems)
    if meta is None and not (folder / META).exists():
        problems.append(f"{META} is missing")
    manifest = _read_json(folder / MANIFEST, problems)
    if manifest is not None and manifest.get("steps") != len(steps):
        problems.append(f"{MANIFEST} counts {manifest.get('steps')} steps, {STEPS} holds {len(steps)}")
    return Trajectory(folder, meta or {}, steps, manifest, torn, problems)


def verify(folder: str | Path) -> list[str]:
    """Re-hash every file the manifest lists. Returns human-readable problems; empty means good."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"no trajectory folder at {folder}"]
    problems: list[str] = []
    manifest = _read_json(folder / MANIFEST, problems)
    if manifest is None:
        return problems or [f"no {MANIFEST}: the trajectory was never sealed (cut short?)"]
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return [f"{MANIFEST} has no 'files' table"]
    root = folder.resolve()
    for rel, info in listed.items():
        p = (folder / rel).resolve()
        if not isinstance(info, dict):
            problems.append(f"{rel}: malformed manifest entry")
        elif not p.is_relative_to(root) or p == root:
            problems.append(f"{rel}: path points outside the trajectory folder")
        elif not p.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif p.stat().st_size != info.get("bytes"):
            problems.append(f"{rel}: size {p.stat().st_size} != {info.get('bytes')} in the manifest")
        elif _sha256(p) != info.get("sha256"):
            problems.append(f"{rel}: SHA-256 does not match the manifest (file changed)")
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: extra file not listed in the manifest")
    return problems
