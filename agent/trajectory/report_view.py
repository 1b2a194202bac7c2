"""What a trajectory report shows, as plain data for the template (``report.py`` renders it).

Why a separate step: the trajectory kinds (run, do, fill, record, replay, eval, demo) write
different keys, and a template full of ``if kind == ...`` would hide what is shown from whom. Here
every step becomes the same record - what was done in words, whether it went wrong, the element it
acted on, the risky-action gate's evidence, the model's side, timings, screenshots before and after
with the target marked - and the run becomes a header: goal or script, verdict and why, totals,
and the evaluator's checks when there was one (``result.json`` next to the trajectory, which
``tasks.worker`` and the demo write) or a fill's per-row ledger (``results.json``).

Everything textual is masked here, once, before a template sees it: ``{{secret:NAME}}`` shows as
``***`` and the live value of every secret the trajectory names is blanked wherever it appears.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from actions import secrets
from agent.trajectory.report_images import ImageStore
from agent.trajectory.report_steps import action_words, first_error, step_view
from agent.trajectory.store import Trajectory, read_trajectory


def secret_names(t: Trajectory, *extra: Any) -> tuple[str, ...]:
    """Every secret the trajectory refers to: placeholders anywhere in it and the steps recorded as
    secret, so a value echoed in a thought or an error is blanked though nothing was typed here."""
    text = json.dumps([t.meta, t.steps, t.manifest, *extra], default=str)
    names = set(secrets.names_in(text))
    names.update(s["secret"] for s in t.steps if isinstance(s.get("secret"), str))
    return tuple(sorted(names))


def deep_mask(obj: Any, names: tuple[str, ...]) -> Any:
    """``secrets.mask`` applied to every string (and dict key) inside a JSON-like object."""
    if isinstance(obj, str):
        return secrets.mask(obj, names=names)
    if isinstance(obj, dict):
        return {deep_mask(str(k), names): deep_mask(v, names) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [deep_mask(v, names) for v in obj]
    return obj


def _read_json(path: Path) -> dict | None:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def companion_files(folder: Path) -> tuple[dict | None, dict | None]:
    """``result.json`` of an eval task / the demo whose trajectory this is, and a fill's ledger
    ``results.json``, both in the folder above the trajectory."""
    result = _read_json(folder.parent / "result.json")
    if result is not None:
        named = result.get("trajectory")
        try:
            if not named or Path(named).resolve() != folder.resolve():
                result = None
        except (OSError, ValueError):
            result = None
    ledger = _read_json(folder.parent / "results.json")
    if ledger is not None and not isinstance(ledger.get("rows"), list):
        ledger = None
    return result, ledger


# the header ----------------------------------------------------------------------------------
_RUN_LABELS = {"done": "done", "fail": "failed", "stopped": "stopped"}


def verdict(t: Trajectory, status: dict, result: dict | None) -> dict:
    """``{"label": done|failed|stopped|cut short|passed, "cls": ok|bad|stop, "why": text}``."""
    if result is not None and "success" in result:
        ok = bool(result.get("success"))
        why = [f"ending {result.get('ending')!s}"]
        failed = [c for c in result.get("checks") or [] if not c.get("ok")]
        if failed:
            why.append(f"check failed: {failed[0].get('what')} ({failed[0].get('detail')})")
        for key in ("safety_stop", "error"):
            if result.get(key):
                why.append(f"{key.replace('_', ' ')}: {result[key]}")
        label = "passed" if ok else ("stopped" if result.get("ending") == "stopped" else "failed")
        return {"label": label, "cls": "ok" if ok else ("stop" if label == "stopped" else "bad"), "why": " · ".join(why)}
    if not t.sealed:
        return {"label": "cut short", "cls": "stop",
                "why": "the trajectory was never closed (no manifest.json): the process was killed or crashed"}
    if isinstance(status.get("status"), str):  # agent run: the loop's EpisodeResult
        s = status["status"]
        label = _RUN_LABELS.get(s, "failed")
        why = f"{s}: {status.get('reason') or ''}".strip(": ")
        if status.get("answer"):
            why += f" · answer: {status['answer']}"
        return {"label": label, "cls": {"done": "ok", "stopped": "stop"}.get(label, "bad"), "why": why}
    if status.get("safety_stop"):
        return {"label": "stopped", "cls": "stop", "why": f"safety stop: {status['safety_stop']}"}
    if status.get("ending"):
        ok = bool(status.get("ok"))
        return {"label": "passed" if ok else "failed", "cls": "ok" if ok else "bad", "why": f"ending {status['ending']}"}
    if status.get("ok") is False:
        why = status.get("error") or status.get("reason") or ""
        if status.get("failed_at") is not None:
            why = f"step {status['failed_at']}: {why}"
        if status.get("counts"):
            why = (why + " · " if why else "") + _counts(status["counts"])
        return {"label": "failed", "cls": "bad", "why": why or "the run reported a failure"}
    why = _counts(status["counts"]) if status.get("counts") else ""
    if status.get("stopped_by"):
        why = f"stopped by {status['stopped_by']}"
    return {"label": "done", "cls": "ok", "why": why}


def _counts(counts: dict) -> str:
    return " · ".join(f"{k} {v}" for k, v in counts.items() if v)


def _when(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def totals(t: Trajectory, steps: list[dict], status: dict, result: dict | None) -> list[tuple[str, str]]:
    """Steps, errors, time, model calls, tokens, model time, risky approvals (label, value)."""
    man = t.manifest or {}
    start, end = _when(man.get("started") or t.meta.get("created")), _when(man.get("finished"))
    stamps = [s["t"] for s in t.steps if isinstance(s.get("t"), (int, float))]
    start = start or (t.meta.get("created_t") if isinstance(t.meta.get("created_t"), (int, float)) else None)
    if end is None and stamps:
        end = max(stamps)
    calls = [s for s in steps if s["model"]]
    tok = sum((m["model"].get("prompt_tokens") or 0) + (m["model"].get("completion_tokens") or 0) for m in calls)
    model_s = sum(m["model"].get("model_s") or 0 for m in calls)
    out = [("steps", str(sum(1 for s in steps if s["kind"] != "parse error"))),
           ("errors", str(sum(1 for s in steps if "error" in s["flags"])))]
    if start is not None and end is not None and end >= start:
        out.append(("time", _duration(end - start)))
    if calls or status.get("model_calls"):
        out += [("model calls", str(status.get("model_calls") or len(calls))),
                ("tokens", f"{status.get('prompt_tokens', 0) + status.get('completion_tokens', 0) or tok:,}"),
                ("model time", _duration(model_s))]
    elif result and result.get("tokens"):
        out.append(("tokens", f"{result['tokens']:,}"))
    approvals = sum(1 for s in steps if s["approved_risky"])
    if approvals:
        out.append(("risky approved", str(approvals)))
    return out


def _duration(s: float) -> str:
    return f"{s:.1f} s" if s < 90 else f"{int(s // 60)} min {s % 60:.0f} s"


def _title(t: Trajectory, kind: str) -> tuple[str, list[tuple[str, str]]]:
    """The headline (goal, script, recording) and the facts under it."""
    m = t.meta
    facts: list[tuple[str, str]] = []
    for key, label in (("task", "task"), ("seed", "seed"), ("policy", "policy"), ("script", "script"),
                       ("data", "data"), ("rows", "rows"), ("replay_of", "replay of"), ("model", "model"),
                       ("observe", "model sees"), ("screen", "screen"), ("created", "started")):
        v = m.get(key)
        if v not in (None, "", []):
            facts.append((label, "x".join(map(str, v)) if key == "screen" and isinstance(v, list) else str(v)))
    if m.get("goal"):
        return str(m["goal"]), facts
    if m.get("script"):
        return f"fill {Path(str(m['script'])).name}", facts
    if m.get("replay_of"):
        return f"replay of {Path(str(m['replay_of'])).name}", facts
    return t.folder.name, facts


# the whole report ----------------------------------------------------------------------------
def build(folder: str | Path, *, full_width: int | None = None) -> dict:
    """Everything the trajectory template shows, masked. Raises ``TrajectoryError`` for a folder
    that is not a trajectory."""
    t = read_trajectory(folder)
    result, ledger = companion_files(t.folder)
    names = secret_names(t, result, ledger)
    t = Trajectory(t.folder, deep_mask(t.meta, names), deep_mask(t.steps, names), deep_mask(t.manifest, names),
                   t.torn_line, deep_mask(t.problems, names))
    result, ledger = deep_mask(result, names), deep_mask(ledger, names)
    status = (t.manifest or {}).get("status") or {}
    kind = str(t.meta.get("kind") or (t.manifest or {}).get("kind") or "trajectory")
    store = ImageStore(t.folder, [t.folder, t.folder.parent] if (result or ledger) else [t.folder],
                       **({"full_width": full_width} if full_width else {}))
    t0 = t.meta.get("created_t") if isinstance(t.meta.get("created_t"), (int, float)) else None
    steps = [step_view(s, t.steps[i + 1] if i + 1 < len(t.steps) else None, store, t0) for i, s in enumerate(t.steps)]
    title, facts = _title(t, kind)
    checks = (result or {}).get("checks") or status.get("checks") or []
    referenced = store.known()
    others = []
    here = t.folder.resolve()
    for p in sorted(list((here / "images").glob("*")) + list((here.parent / "errors").glob("*.png"))):
        if p.suffix.lower() in (".png", ".jpg", ".jpeg") and p.resolve() not in referenced \
                and "crop" not in p.name and (key := store.add(p)):
            others.append({"img": key, "thumb": store.thumb(key), "name": p.name})
    first = first_error(steps)
    v = verdict(t, status, result)
    last = (t.steps[-1].get("action") or {}) if t.steps and isinstance(t.steps[-1].get("action"), dict) else {}
    if last.get("type") == "done" and last.get("answer") and "answer" not in v["why"]:
        v["why"] = f"{v['why']} · answer: {last['answer']}".lstrip(" ·")
    return {
        "title": title, "kind": kind, "facts": facts, "verdict": v,
        "totals": totals(t, steps, status, result), "checks": checks,
        "result_extra": _result_extra(result), "rows": (ledger or {}).get("rows") or [],
        "steps": steps, "first_error": first, "others": others, "problems": t.problems,
        "secrets": list(names), "sealed": t.sealed, "folder": str(t.folder),
        "counts": {f: sum(1 for s in steps if f in s["flags"]) for f in ("error", "risky", "healed")},
        "images": store.full, "tool": f"{t.meta.get('tool', 'desk-agent')} {t.meta.get('tool_version', '')}".strip(),
    }


def _result_extra(result: dict | None) -> list[tuple[str, str]]:
    """What an eval/demo result adds beyond the checks: the answer, grounding fallbacks, approvals."""
    if not result:
        return []
    out = []
    for key in ("answer", "approvals", "refusals", "fallbacks", "error", "safety_stop", "elapsed_s", "traceback"):
        v = result.get(key)
        if v not in (None, "", [], {}):
            out.append((key.replace("_", " "), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))
    return out


__all__ = ["action_words", "build", "companion_files", "deep_mask", "secret_names", "verdict"]
