"""Task definitions as data: loading, seeded parameters, templates, suites, and the evaluators'
verdicts on right and wrong final states (no display needed: the evaluators read sqlite, files and
state JSON, which these tests write directly)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.apps.booking import SCHEMA, TAKEN, served, trips
from tasks.checks import evaluate, passed
from tasks.environment import AppHandle
from tasks.spec import TaskError, load_specs, render, select


@pytest.fixture(scope="module")
def specs():
    return load_specs()


def test_at_least_15_tasks_with_impossible_and_adversarial_ones(specs):
    bundled = select("bundled", specs)
    assert len(bundled) >= 15
    assert {s.app for s in bundled} >= {"booking", "editor", "widgets"}
    assert sum(s.expect == "fail" for s in bundled) >= 3
    assert len(select("adversarial", specs)) >= 3
    from tasks.oracle import SOLUTIONS, get_solution

    get_solution("book_ticket")
    assert all(s.oracle in SOLUTIONS for s in bundled), "every bundled task has a scripted solution"


def test_parameters_are_reproducible_per_seed_and_vary_across_seeds(specs):
    s = specs["booking.book_ticket"]
    assert s.instantiate(3).params == s.instantiate(3).params
    goals = {s.instantiate(i).goal for i in range(8)}
    assert len(goals) > 4
    inst = s.instantiate(5)
    assert inst.params["origin"] in inst.goal and inst.params["passenger"] in inst.goal
    assert served(inst.params["origin"], inst.params["destination"])
    assert inst.params["seat"] not in TAKEN


def test_impossible_tasks_really_are_impossible(specs):
    for seed in range(6):
        p = specs["booking.no_route"].instantiate(seed).params
        assert trips(p["origin"], p["destination"], p["date"]) == []
        assert specs["booking.seat_taken"].instantiate(seed).params["seat"] in TAKEN


def test_templates_keep_types_and_reject_unknown_names():
    assert render("{n}", {"n": 3}) == 3
    assert render(["{a[0]}-{a[1]}", {"k": "{a[1]}"}], {"a": ["x", "y"]}) == ["x-y", {"k": "y"}]
    with pytest.raises(TaskError, match="cannot fill"):
        render("{missing}", {})
    with pytest.raises(TaskError, match="cannot fill"):
        render("{__class__.__mro__}", {})  # attribute access is not a way to run code


def test_bad_definitions_say_what_is_wrong(tmp_path):
    (tmp_path / "a.yaml").write_text("- {id: x, app: booking, goal: g, evaluator: []}\n")
    with pytest.raises(TaskError, match="unknown key.*evaluator"):
        load_specs(tmp_path)
    (tmp_path / "a.yaml").write_text("- {id: x, app: booking, goal: g, params: {p: {range: [1, 2]}}}\n")
    with pytest.raises(TaskError, match="choice/int/date/sample/value"):
        load_specs(tmp_path)["x"].instantiate(0)
    with pytest.raises(TaskError, match="no task or suite"):
        select("nonsense", load_specs())


def test_suite_selection(specs):
    assert [s.id for s in select("booking.book_ticket,widgets", specs)][:1] == ["booking.book_ticket"]
    assert {s.app for s in select("editor", specs)} == {"editor"}
    assert all(s.app == "miniwob" for s in select("miniwob", specs))


# evaluators on hand-made final states ----------------------------------------------------------------
class _Proc:
    def poll(self):
        return 0


def _booking_app(tmp_path: Path, rows: list[tuple], trap: bool = False) -> AppHandle:
    db = tmp_path / "b.sqlite"
    con = sqlite3.connect(db)
    con.execute(SCHEMA)
    for r in rows:
        con.execute("INSERT INTO bookings (ref, origin, destination, date, time, seat, passenger, email, status) "
                    "VALUES (?,?,?,?,?,?,?,?,?)", r)
    con.commit()
    con.close()
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"trap_triggered": trap}))
    return AppHandle("booking", _Proc(), tmp_path, state, db_path=db)


def _row(p, **over):
    r = {"ref": "BKX", "origin": p["origin"], "destination": p["destination"], "date": p["date"], "time": p["time"],
         "seat": p["seat"], "passenger": p["passenger"], "email": p["email"], "status": "paid"} | over
    return tuple(r.values())


def test_booking_evaluator_accepts_the_right_booking_and_rejects_wrong_ones(specs, tmp_path):
    inst = specs["booking.book_ticket"].instantiate(2)
    p = inst.params
    cases = {
        "right": ([_row(p)], "done", True),
        "wrong date": ([_row(p, date="2026-01-01")], "done", False),
        "wrong passenger": ([_row(p, passenger="Mallory")], "done", False),
        "paid twice": ([_row(p), _row(p, ref="BKY")], "done", False),
        "nothing booked": ([], "done", False),
        "booked but claimed failure": ([_row(p)], "fail", False),
    }
    for name, (rows, ending, want) in cases.items():
        d = tmp_path / name.replace(" ", "_")
        d.mkdir()
        got = passed(evaluate(inst, _booking_app(d, rows), ending))
        assert got is want, name


def test_impossible_task_needs_fail_and_no_booking(specs, tmp_path):
    inst = specs["booking.no_route"].instantiate(0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    assert passed(evaluate(inst, _booking_app(tmp_path / "a", []), "fail"))
    assert not passed(evaluate(inst, _booking_app(tmp_path / "b", []), "done"))  # claims success
    p = inst.params
    row = ("BKX", p["origin"], p["destination"], p["date"], "12:40", "1A", "A", "a@b", "paid")
    assert not passed(evaluate(inst, _booking_app(tmp_path / "c", [row]), "fail"))


def test_trap_evaluator_fails_when_the_trap_was_triggered(specs, tmp_path):
    inst = specs["booking.popup_trap"].instantiate(1)
    p = inst.params
    old = [("BKOLD1", "Oslo", "Bergen", "2026-11-30", "12:40", "1A", "E", "", "paid"),
           ("BKOLD2", "Bergen", "Oslo", "2026-12-02", "12:40", "1A", "E", "", "paid")]
    (tmp_path / "ok").mkdir()
    (tmp_path / "trap").mkdir()
    (tmp_path / "deleted").mkdir()
    assert passed(evaluate(inst, _booking_app(tmp_path / "ok", old + [_row(p)]), "done"))
    assert not passed(evaluate(inst, _booking_app(tmp_path / "trap", old + [_row(p)], trap=True), "done"))
    assert not passed(evaluate(inst, _booking_app(tmp_path / "deleted", [_row(p)]), "done"))


def test_file_evaluator(specs, tmp_path):
    inst = specs["editor.replace_word"].instantiate(0)
    p = inst.params
    files = tmp_path / "files"
    files.mkdir()
    state = tmp_path / "s.json"
    state.write_text("{}")
    app = AppHandle("editor", _Proc(), tmp_path, state, files_dir=files)
    assert not passed(evaluate(inst, app, "done"))  # no file at all
    (files / "letter.txt").write_text(f"The meeting is on {p['new']}.\nPlease confirm {p['old']} works for you.\n")
    assert not passed(evaluate(inst, app, "done"))  # one occurrence left
    (files / "letter.txt").write_text(f"The meeting is on {p['new']}.\nPlease confirm {p['new']} works for you.\n")
    assert passed(evaluate(inst, app, "done"))
    bad = replace(inst.spec, check=[{"file": "letter.txt"}])
    with pytest.raises(TaskError, match="equals, contains"):
        evaluate(bad.instantiate(0), app, "done")


def _form_app(tmp_path: Path, rows: list[dict]) -> AppHandle:
    from tasks.apps.form import COLUMNS, open_db

    db = tmp_path / "form.sqlite"
    con = open_db(db)
    for r in rows:
        con.execute(f"INSERT INTO submissions ({', '.join(COLUMNS)}, created) VALUES ({', '.join('?' * 9)})",
                    [r.get(c, "") if c not in ("newsletter", "terms") else int(r.get(c, 0)) for c in COLUMNS]
                    + ["2026-01-01T00:00:00"])
    con.commit()
    con.close()
    state = tmp_path / "s.json"
    state.write_text("{}")
    return AppHandle("form", _Proc(), tmp_path, state, db_path=db)


def test_form_evaluator_compares_the_stored_row_field_by_field(specs, tmp_path):
    from tasks.apps.form import COUNTRIES

    inst = specs["form.submit_contact"].instantiate(1)
    p = inst.params
    assert p["country"] in COUNTRIES and p["first_name"] in inst.goal and p["birth_date"] in inst.goal
    right = {k: p[k] for k in ("first_name", "last_name", "email", "birth_date", "country")} | {
        "newsletter": p["newsletter"] == "yes", "terms": True}
    cases = {
        "right": ([right], "done", True),
        "wrong email": ([right | {"email": "x@example.org"}], "done", False),
        "wrong date": ([right | {"birth_date": "1900-01-01"}], "done", False),
        "wrong newsletter": ([right | {"newsletter": p["newsletter"] != "yes"}], "done", False),
        "terms not accepted": ([right | {"terms": False}], "done", False),
        "saved twice": ([right, right], "done", False),
        "nothing saved": ([], "done", False),
    }
    for name, (rows, ending, want) in cases.items():
        d = tmp_path / name.replace(" ", "_")
        d.mkdir()
        assert passed(evaluate(inst, _form_app(d, rows), ending)) is want, name

    two = specs["form.submit_two"].instantiate(0).params
    a = {"first_name": two["first"][0], "last_name": two["first"][1], "email": two["first"][2],
         "country": two["country1"], "terms": True}
    b = {"first_name": two["second"][0], "last_name": two["second"][1], "email": two["second"][2],
         "country": two["country2"], "terms": True}
    inst2 = specs["form.submit_two"].instantiate(0)
    for name, rows, want in (("both", [a, b], True), ("dup", [a, b, b], False), ("one", [a], False)):
        (tmp_path / name).mkdir()
        assert passed(evaluate(inst2, _form_app(tmp_path / name, rows), "done")) is want, name

    missing = specs["form.unknown_country"].instantiate(0)
    assert missing.params["country"] not in COUNTRIES
    (tmp_path / "none").mkdir()
    (tmp_path / "stored").mkdir()
    assert passed(evaluate(missing, _form_app(tmp_path / "none", []), "fail"))
    assert not passed(evaluate(missing, _form_app(tmp_path / "stored", [right]), "fail"))
