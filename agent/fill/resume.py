"""Resuming a cut ``agent fill`` run without storing anything twice or losing a row.

A run can be cut at any moment — ``kill -9`` a millisecond after the Save click, a crash, Ctrl-C.
The ledger marks a row ``running`` (durably) before its first action, so the next run knows which
row was under way; it does not know whether that row's effect happened. Guessing either way is
wrong: "not done" stores the record twice, "done" loses it. So such a row is **uncertain** and is
settled by evidence or by a person:

* the script's ``already_done`` check looks at the screen (after the ``reset`` steps have emptied
  whatever the cut row left in the form): it is there → the row is ``ok`` (note "already done");
  it is not → the row is done again (note "redone");
* ``--redo-uncertain``: a person looked and says it is not there → reset, then the row again;
* otherwise it stays ``uncertain``, is reported with its key, and the run exits 4; the reset
  steps run before the next row, so what the cut row left in the form does not leak into it.

A check that cannot decide (a step before its expectation fails) keeps the row uncertain. With a
check, ``--retry-failed`` looks before redoing a failed row too: a row can fail *after* its effect
(the Save landed; its confirmation came after the ``expect`` gave up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from agent.fill.results import Ledger, RowResult
from agent.fill.runner import FillRunner, StepFailed
from agent.fill.script import check_row

FOUND = "already done: the already_done check found it on resume"
NOT_FOUND = "redone: the already_done check did not find it on resume"
REDO = "redone: --redo-uncertain"


@dataclass
class Plan:
    """The rows this run processes, in order, and what to do about the uncertain ones."""

    todo: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    settle: set[int] = field(default_factory=set)  # uncertain rows in ``todo``: settle before running
    held: list[int] = field(default_factory=list)  # uncertain rows kept for a person


def plan_rows(rows: list[dict[str, str]], ledger: Ledger, *, resume: bool, retry_failed: bool,
              redo_uncertain: bool, checkable: bool, limit: int | None) -> Plan:
    """Which rows run: new ones, failed ones with ``retry_failed``, and uncertain ones only when the
    script can check them or a person said to redo them."""
    plan = Plan()
    skip = ledger.done(retry_failed) if resume else set()
    uncertain = ledger.uncertain() if resume else set()
    # a failed row may have failed *after* its effect (the Save landed, the confirmation came late):
    # with a check, --retry-failed looks before doing it again
    retry = {n for n, r in ledger.rows.items() if r.status == "failed"} if resume and retry_failed else set()
    for n, row in enumerate(rows, start=1):
        if n in skip:
            continue
        if n in uncertain and not (checkable or redo_uncertain):
            plan.held.append(n)
            continue
        if n in uncertain or (n in retry and checkable):
            plan.settle.add(n)
        plan.todo.append((n, row))
    plan.todo = plan.todo[: limit or None]
    plan.settle &= {n for n, _ in plan.todo}
    return plan


@dataclass
class Verdict:
    """How an uncertain row was settled: ``result`` to record (done, or still uncertain), or None
    with ``note``: run the row now."""

    result: RowResult | None
    note: str | None = None
    stop: bool = False  # the screen is in an unknown state (the reset failed): end the run


def settle(filler: FillRunner, n: int, row: dict[str, str], *, redo: bool) -> Verdict:
    """Settle uncertain row ``n``: reset, then the ``already_done`` check (unless ``redo``)."""
    t0 = time.monotonic()
    filler.start_row(n)
    if check_row(filler.script, row):
        return Verdict(None)  # a required value is empty: the row never acted; running it fails it
    if redo or filler.script.already_done is None:
        return _reset_then(filler, n, row, t0, Verdict(None, REDO))
    early = _reset_then(filler, n, row, t0, None)
    if early is not None:
        return early
    try:
        found = filler.already_done(n, row)
    except StepFailed as e:
        kept = Verdict(RowResult(n, "uncertain", f"{e} (row kept uncertain: a person must look)", None,
                                 time.monotonic() - t0))
        return _reset_then(filler, n, row, t0, kept) if filler.script.already_done.steps[:-1] else kept
    verdict = Verdict(RowResult(n, "ok", None, None, time.monotonic() - t0, note=FOUND) if found else None,
                      None if found else NOT_FOUND)
    if filler.script.already_done.steps[:-1]:  # the check moved around: back to where rows start
        return _reset_then(filler, n, row, t0, verdict)
    return verdict


def _reset_then(filler: FillRunner, n: int, row: dict[str, str], t0: float, then: Verdict | None) -> Verdict | None:
    """The script's reset steps; ``then`` when they pass, a stop (row still uncertain) when not."""
    try:
        filler.reset(row)
    except StepFailed as e:
        return Verdict(RowResult(n, "uncertain", f"{e}; the row was not checked or redone", None,
                                 time.monotonic() - t0), stop=True)
    return then
