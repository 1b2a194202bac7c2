"""Evaluators: did the task succeed, judged from the real final state, never from the agent's claim.

A task's ``check:`` list holds data-only checks; all must pass, and the agent's ending must match the
task's ``expect`` (``done``, or ``fail`` for an impossible task: OSWorld's "infeasible" rule, so an
agent that gives up on a possible task, or claims success on an impossible one, scores 0).

Check kinds:

* ``{sqlite: "SELECT ...", rows: [[...], ...]}``  the query's rows equal these, in any order (so a
  wrong date, a wrong passenger or a second payment all fail); or ``count: n`` for the row count.
* ``{file: NAME, equals: TEXT}`` / ``contains: TEXT`` / ``absent: TEXT`` / ``exists: false``  a file in
  the app's folder (trailing whitespace ignored for ``equals``).
* ``{state: KEY, equals: VALUE}`` / ``in: [..]``  a key of the app's own state file (dotted paths).
* ``{reward: {min: 1.0}}``  MiniWoB++'s own reward for the episode (``extra["reward"]``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from tasks.environment import AppHandle
from tasks.spec import TaskError, TaskInstance


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    what: str
    detail: str = ""

    def to_json(self) -> dict:
        return {"ok": self.ok, "what": self.what, "detail": self.detail}


def evaluate(inst: TaskInstance, app: AppHandle | None, ending: str, extra: dict | None = None) -> list[CheckResult]:
    """All checks of ``inst`` against the final state, plus the ending check (first)."""
    results = [CheckResult(ending == inst.spec.expect, f"ending is {inst.spec.expect}",
                           f"the agent ended with {ending!r}")]
    for raw in inst.render(inst.spec.check):
        results.append(_one(raw, app, extra or {}, inst.spec.id))
    return results


def _one(check: dict[str, Any], app: AppHandle | None, extra: dict, where: str) -> CheckResult:
    if "sqlite" in check:
        return _sqlite(check, app, where)
    if "file" in check:
        return _file(check, app, where)
    if "state" in check:
        return _state(check, app)
    if "reward" in check:
        got = extra.get("reward")
        lo = float(check["reward"].get("min", 1.0))
        return CheckResult(got is not None and got >= lo, f"reward >= {lo:g}", f"reward {got}")
    raise TaskError(f"{where}: unknown check {check!r}; kinds: sqlite, file, state, reward")


def _sqlite(check: dict, app: AppHandle | None, where: str) -> CheckResult:
    if app is None or app.db_path is None:
        raise TaskError(f"{where}: a sqlite check needs an app with a database")
    query = check["sqlite"]
    con = sqlite3.connect(f"file:{app.db_path}?mode=ro", uri=True)
    try:
        rows = [list(r) for r in con.execute(query).fetchall()]
    except sqlite3.Error as e:
        return CheckResult(False, f"sqlite {query!r}", f"query failed: {e}")
    finally:
        con.close()
    if "count" in check:
        want = int(check["count"])
        return CheckResult(len(rows) == want, f"{want} row(s) from {query!r}", f"got {len(rows)}: {rows[:3]}")
    want_rows = [[_norm(v) for v in r] for r in check.get("rows", [])]
    got_rows = [[_norm(v) for v in r] for r in rows]
    ok = sorted(map(repr, got_rows)) == sorted(map(repr, want_rows))
    return CheckResult(ok, f"rows of {query!r} equal {want_rows}", f"got {got_rows}")


def _norm(v: Any) -> Any:
    return v.strip() if isinstance(v, str) else v


def _file(check: dict, app: AppHandle | None, where: str) -> CheckResult:
    if app is None or app.files_dir is None:
        raise TaskError(f"{where}: a file check needs an app with a folder")
    name = check["file"]
    p = app.files_dir / name
    if "exists" in check:
        return CheckResult(p.is_file() == bool(check["exists"]), f"{name} exists is {check['exists']}",
                           f"exists: {p.is_file()}")
    if not p.is_file():
        return CheckResult(False, f"{name} has the expected text", "the file does not exist")
    text = p.read_text(errors="replace")
    if "equals" in check:
        ok = text.rstrip() == str(check["equals"]).rstrip()
        return CheckResult(ok, f"{name} equals {check['equals']!r:.80}", f"got {text!r:.200}")
    if "contains" in check:
        return CheckResult(str(check["contains"]) in text, f"{name} contains {check['contains']!r:.80}",
                           f"got {text!r:.200}")
    if "absent" in check:
        return CheckResult(str(check["absent"]) not in text, f"{name} lacks {check['absent']!r:.80}",
                           f"got {text!r:.200}")
    raise TaskError(f"{where}: file check needs equals, contains, absent or exists")


def _state(check: dict, app: AppHandle | None) -> CheckResult:
    if app is None:
        return CheckResult(False, f"state {check['state']}", "no app state")
    value: Any = app.state()
    for part in str(check["state"]).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if "in" in check:
        return CheckResult(value in check["in"], f"state {check['state']} in {check['in']}", f"got {value!r}")
    want = check.get("equals")
    return CheckResult(value == want, f"state {check['state']} == {want!r}", f"got {value!r}")


def passed(results: list[CheckResult]) -> bool:
    return all(r.ok for r in results)
