"""Tests of agent.trajectory: round trip, torn lines, kill -9, verify, secrets, append."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from actions import secrets
from agent.trajectory import TrajectoryError, TrajectoryWriter, read_trajectory, verify

REPO = Path(__file__).resolve().parents[1]


def _write(folder: Path, n: int, **kw) -> list[dict]:
    steps = [{"action": {"kind": "click", "x": i, "y": 2 * i}, "note": f"step é{i}"} for i in range(n)]
    with TrajectoryWriter(folder, kind="run", meta={"goal": "open the editor", "screen": [1920, 1080]}, **kw) as w:
        for s in steps:
            w.append(s)
    return steps


def test_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "traj"
    w = TrajectoryWriter(folder, kind="run", meta={"goal": "type ünïcode", "screen": [800, 600]})
    sent = []
    for i in range(5):
        step = {"action": {"kind": "type", "text": f"hello {i} — ✓"}, "ok": True}
        if i < 2:
            step["before"] = w.add_image(b"\x89PNG fake %d" % i, step=i, label="before", ext="png")
        assert w.append(step) == i
        sent.append(step)
    assert w.steps_written == 5
    assert sent[0]["before"] == "images/000000-before.png"
    assert "index" not in sent[0]  # the caller's dict is not changed
    manifest_path = w.close({"ok": True, "reason": "done"})
    assert w.close() == manifest_path  # idempotent

    t = read_trajectory(folder)
    assert t.sealed and t.torn_line is None and t.problems == []
    assert [s["index"] for s in t.steps] == list(range(5))
    assert all(isinstance(s["t"], float) for s in t.steps)
    for got, want in zip(t.steps, sent):
        assert {k: v for k, v in got.items() if k not in ("index", "t")} == want
    assert t.meta["kind"] == "run" and t.meta["goal"] == "type ünïcode" and t.meta["screen"] == [800, 600]
    assert "created" in t.meta and "tool_version" in t.meta
    assert "✓" in (folder / "steps.jsonl").read_text(encoding="utf-8")  # ensure_ascii=False
    assert len((folder / "steps.jsonl").read_bytes().splitlines()) == 5

    m = t.manifest
    assert m["steps"] == 5 and m["status"] == {"ok": True, "reason": "done"}
    assert m["started"] and m["finished"]
    assert set(m["files"]) == {"meta.json", "steps.jsonl", "images/000000-before.png", "images/000001-before.png"}
    for rel, info in m["files"].items():
        data = (folder / rel).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert verify(folder) == []
    with pytest.raises(TrajectoryError):
        w.append({"late": True})


def test_torn_last_line(tmp_path: Path) -> None:
    folder = tmp_path / "traj"
    w = TrajectoryWriter(folder, kind="record")
    for i in range(3):
        w.append({"i": i})
    with open(folder / "steps.jsonl", "ab") as f:
        f.write(b'{"i": 3, "action": {"kind": "cl')
    t = read_trajectory(folder)
    assert [s["i"] for s in t.steps] == [0, 1, 2]
    assert t.torn_line == 4
    assert any("line 4" in p and "torn" in p for p in t.problems)
    assert t.manifest is None and not t.sealed


def test_garbled_middle_line_is_reported_and_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "traj"
    _write(folder, 2)
    lines = (folder / "steps.jsonl").read_bytes().splitlines(keepends=True)
    (folder / "steps.jsonl").write_bytes(lines[0] + b"{not json\n" + lines[1])
    t = read_trajectory(folder)
    assert len(t.steps) == 2 and t.torn_line is None
    assert any("line 2" in p and "garbled" in p for p in t.problems)


CHILD = textwrap.dedent(
    """
    import sys, time
    from agent.trajectory import TrajectoryWriter
    w = TrajectoryWriter(sys.argv[1], kind="record", meta={"goal": "kill me"})
    i = 0
    while True:
        w.append({"action": {"kind": "move", "x": i, "y": i}, "pad": "x" * 2000})
        i += 1
        print(i, flush=True)
        time.sleep(0.01)
    """
)


def test_kill_9_keeps_complete_steps(tmp_path: Path) -> None:
    folder = tmp_path / "traj"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO)
    reported = 0
    deadline = time.monotonic() + 30
    try:
        while reported < 15 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"child died early: {proc.stderr.read().decode(errors='replace')}")
            reported = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert reported >= 15

    t = read_trajectory(folder)
    assert reported <= len(t.steps) <= reported + 1  # at most one more was in flight
    assert [s["index"] for s in t.steps] == list(range(len(t.steps)))
    assert t.manifest is None and not t.sealed
    assert t.meta["goal"] == "kill me"
    assert verify(folder) != []  # not sealed

    # it can be resumed: the torn tail (if any) is cut, numbering continues
    with TrajectoryWriter(folder, kind="record", append=True) as w:
        assert w.append({"resumed": True}) == len(t.steps)
    t2 = read_trajectory(folder)
    assert t2.torn_line is None and t2.problems == [] and t2.sealed
    assert len(t2.steps) == len(t.steps) + 1 and verify(folder) == []


def test_verify_detects_modified_image_and_extra_file(tmp_path: Path) -> None:
    folder = tmp_path / "traj"
    with TrajectoryWriter(folder, kind="run") as w:
        rel = w.add_image(b"original pixels", step=3, label="after", ext=".png")
        w.append({"after": rel})
    assert rel == "images/000003-after.png"
    assert verify(folder) == []

    (folder / rel).write_bytes(b"tampered pixels")  # same size, other hash
    (folder / "images" / "sneaky.png").write_bytes(b"x")
    problems = verify(folder)
    assert any(rel in p and "SHA-256" in p for p in problems)
    assert any("sneaky.png" in p and "extra" in p for p in problems)

    (folder / rel).unlink()
    assert any(rel in p and "missing" in p for p in verify(folder))
    (folder / "manifest.json").unlink()
    assert any("manifest" in p for p in verify(folder))


def test_secret_canary_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-XYZ-123"
    monkeypatch.setenv("DESK_CANARY_PW", canary)
    assert secrets.resolve("{{secret:DESK_CANARY_PW}}") == canary  # marks it live
    folder = tmp_path / "traj"
    with TrajectoryWriter(folder, kind="fill", meta={"goal": f"log in with {canary}"}) as w:
        w.append({
            "action": {"kind": "type", "text": "{{secret:DESK_CANARY_PW}}"},
            "model_said": f"I typed {canary} into the password box",
            "list": [canary, 1],
        })
    with pytest.raises(RuntimeError):  # an error message holding the value is masked as well
        with TrajectoryWriter(tmp_path / "err", kind="fill") as w2:
            w2.append({"ok": True})
            raise RuntimeError(f"login failed for password {canary}")

    for root in (folder, tmp_path / "err"):
        for p in root.rglob("*"):
            if p.is_file():
                assert canary.encode() not in p.read_bytes(), p
    step = read_trajectory(folder).steps[0]
    assert step["action"]["text"] == "{{secret:DESK_CANARY_PW}}"
    assert "***" in step["model_said"]
    err = read_trajectory(tmp_path / "err").manifest["status"]
    assert err["ok"] is False and "RuntimeError" in err["error"]


def test_refuses_existing_and_append_continues(tmp_path: Path) -> None:
    folder = tmp_path / "traj"
    _write(folder, 3)
    with pytest.raises(TrajectoryError, match="already holds"):
        TrajectoryWriter(folder, kind="run")
    first_meta = (folder / "meta.json").read_bytes()

    w = TrajectoryWriter(folder, kind="run", append=True)
    assert w.steps_written == 3
    assert not (folder / "manifest.json").exists()  # stale manifest dropped until the new close
    assert w.append({"more": 1}) == 3
    assert w.append({"more": 2}) == 4
    with pytest.raises(TrajectoryError):
        w.append({"index": 2})  # going backwards is refused
    w.close({"ok": True})

    t = read_trajectory(folder)
    assert [s["index"] for s in t.steps] == [0, 1, 2, 3, 4]
    assert t.manifest["steps"] == 5 and t.problems == []
    assert (folder / "meta.json").read_bytes() == first_meta
    assert verify(folder) == []


def test_missing_folder_or_steps(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryError, match="no trajectory folder"):
        read_trajectory(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrajectoryError, match="steps.jsonl is missing"):
        read_trajectory(tmp_path / "empty")
    assert verify(tmp_path / "nope") != []
