"""The resume bookkeeping of ``agent fill`` without a screen: the ``key`` / ``already_done`` script
keys, the key column, the ledger's in-progress rows and which rows a resumed run touches."""

from __future__ import annotations

import json

import pytest

from agent.fill.results import DataError, Ledger, RowResult, key_column
from agent.fill.resume import plan_rows
from agent.fill.script import ScriptError, parse_script

STEPS = "steps:\n  - click: Save\n"


def test_already_done_takes_a_text_a_target_or_steps_ending_in_an_expectation():
    s = parse_script('key: email\nalready_done: "{email}"\n' + STEPS)
    assert s.key == "email" and s.already_done.steps[0].expect.text == "{email}" and s.already_done.target is None
    assert s.variables() == {"email": True}  # the check's {email} is a required column like any other
    s = parse_script('already_done: {text: "{email}", near: "Saved contacts"}\n' + STEPS)
    assert s.already_done.target.text == "{email}" and s.already_done.target.near == "Saved contacts"
    s = parse_script('already_done:\n  - click: "Contacts"\n  - wait_for: {text: "{email}", timeout: 2}\n' + STEPS)
    assert [x.action for x in s.already_done.steps] == ["click", "wait_for"]


@pytest.mark.parametrize(("text", "where"), [
    ('already_done:\n  - click: "Contacts"\n' + STEPS, "f.yaml:1: already_done: Value error, the last step of "
                                                        "already_done must be expect or wait_for"),
    ('already_done:\n  - click: "Contacts"\n  - clik: x\n  - expect: y\n' + STEPS, "f.yaml:3: already_done[1].clik: unknown key"),
    ("already_done: {txt: a}\n" + STEPS, "f.yaml:1: already_done.txt: unknown key"),
    ("already_done: []\n" + STEPS, "f.yaml:1: already_done: Value error, already_done is a text, a target, or a list"),
])
def test_a_bad_already_done_is_an_error_with_its_line(text, where):
    with pytest.raises(ScriptError) as e:
        parse_script(text, "f.yaml")
    assert where in str(e.value)


def test_the_key_column_is_named_or_found():
    rows = [{"first": "Ada", "email": "a@x.org", "id": "7"}, {"first": "Ada", "email": "b@x.org", "id": "7"}]
    assert key_column(rows) == "email"  # "id" repeats: not a key
    assert key_column(rows, "first") == "first"
    assert key_column([{"a": "1", "b": "x"}, {"a": "1", "b": "y"}]) == "b"  # the first distinct column
    with pytest.raises(DataError, match="'mail' is not in the data"):
        key_column(rows, "mail")


def test_a_row_left_running_comes_back_uncertain_and_changed_data_is_refused(tmp_path):
    led = Ledger(tmp_path, meta={"key_column": "email"})
    led.keys = {1: "a@x.org", 2: "b@x.org", 3: "c@x.org"}
    led.record(RowResult(1, "ok"))
    led.start(2)  # kill -9 now
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["rows"][1] == {"row": 2, "key": "b@x.org", "status": "running", "error": None, "note": None,
                                  "step": None, "duration_s": 0.0}
    assert (tmp_path / "results.csv").read_text().splitlines()[0] == "row,key,status,error,note,step,duration_s"

    again = Ledger.load(tmp_path)
    assert again.rows[2].status == "uncertain" and "in progress" in again.rows[2].error
    assert again.done() == {1} and again.uncertain() == {2}
    rows = [{"email": e} for e in ("a@x.org", "b@x.org", "c@x.org")]
    again.check_keys(rows, "email")
    with pytest.raises(DataError, match="row 2 was email='b@x.org', now 'c@x.org'"):
        again.check_keys([rows[0], rows[2]], "email")

    plan = plan_rows(rows, again, resume=True, retry_failed=False, redo_uncertain=False, checkable=False, limit=None)
    assert [n for n, _ in plan.todo] == [3] and plan.held == [2] and plan.settle == set()
    plan = plan_rows(rows, again, resume=True, retry_failed=False, redo_uncertain=False, checkable=True, limit=None)
    assert [n for n, _ in plan.todo] == [2, 3] and plan.settle == {2} and plan.held == []
    plan = plan_rows(rows, again, resume=True, retry_failed=False, redo_uncertain=True, checkable=False, limit=1)
    assert [n for n, _ in plan.todo] == [2] and plan.settle == {2}

    led = Ledger(tmp_path / "f")  # --retry-failed: with a check, a failed row is looked for before it is redone
    led.record(RowResult(1, "failed", "expect timed out"))
    plan = plan_rows(rows[:1], led, resume=True, retry_failed=True, redo_uncertain=False, checkable=True, limit=None)
    assert [n for n, _ in plan.todo] == [1] and plan.settle == {1}
    plan = plan_rows(rows[:1], led, resume=True, retry_failed=True, redo_uncertain=False, checkable=False, limit=None)
    assert [n for n, _ in plan.todo] == [1] and plan.settle == set()
