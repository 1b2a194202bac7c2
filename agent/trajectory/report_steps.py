"""One trajectory step as a report shows it: the action in words, what went wrong, the element it
acted on, the gate's evidence, the model's side, timings, and the screenshots with the target marked.

Steps of every kind come through here (``StepRunner`` steps with ``evidence`` and ``approved_risky``,
the model loop's ``model_output``/``memory``/``action_text``/``model``/``feedback_given`` and its
``parse_error`` records, fill's ``match``, replay's ``grounding`` and failure records, a recording's
``anchor``). Keys this module does not know are still shown, as JSON under "more", so a new kind of
step is never silently half-reported. The step is already masked (``report_view.build``).
"""

from __future__ import annotations

import json
from typing import Any

from agent.trajectory.report_images import ImageStore

_KNOWN = {"index", "t", "action", "ok", "error", "approved_risky", "evidence", "thought", "screenshot", "screen_area",
          "image_size", "settled", "timings", "model_output", "memory", "action_text", "model", "feedback_given",
          "parse_error", "safety_stop", "element", "grounding", "match", "anchor", "anchor_end", "model_s",
          "prompt_s", "prompt_tokens", "completion_tokens", "after_screenshot", "healed", "t_rel", "replay_of",
          "row", "step", "step_name", "var", "secret", "dry_run", "observation", "part_of", "check",
          "screen_changed", "not_carried_out", "waited_s"}
_CLICKS = {1: "click", 2: "double-click", 3: "triple-click"}


def rounded(obj: Any) -> Any:
    """Coordinates to one decimal, scores and other small numbers to three; whole numbers as ints."""
    if isinstance(obj, float):
        r = round(obj, 1 if abs(obj) >= 10 else 3)
        return int(r) if r == int(r) else r
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v) for v in obj]
    return obj


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _at(a: dict, x: str = "x", y: str = "y") -> str:
    return f" at ({round(a[x])}, {round(a[y])})" if _num(a.get(x)) and _num(a.get(y)) else ""


def action_words(a: dict | None) -> str:
    """``click "Pay" at (412, 300)``, ``type "***"``, ``press enter ×2``, ``drag (1, 2) → (3, 4)`` ..."""
    if not isinstance(a, dict) or not a.get("type"):
        return "(no action)"
    k = a["type"]
    target = f' "{a["target"]}"' if a.get("target") else ""
    if k == "click":
        verb = _CLICKS.get(a.get("clicks") or 1, "click")
        if a.get("button") not in (None, "left"):
            verb = f"{a['button']}-{verb}"
        return f"{verb}{target}{_at(a)}"
    if k in ("mouse_down", "mouse_up", "move"):
        return f"{k.replace('_', ' ')}{_at(a)}"
    if k == "drag":
        return f"drag ({round(a.get('x1') or 0)}, {round(a.get('y1') or 0)}) → ({round(a.get('x2') or 0)}, {round(a.get('y2') or 0)})"
    if k == "scroll":
        parts = [f"{'up' if a['dy'] > 0 else 'down'} {abs(a['dy'])}" if a.get("dy") else "",
                 f"{'right' if a['dx'] > 0 else 'left'} {abs(a['dx'])}" if a.get("dx") else ""]
        return f"scroll {' '.join(p for p in parts if p) or '0'}{_at(a)}"
    if k == "type":
        text = str(a.get("text", ""))
        return f'type "{text if len(text) <= 60 else text[:57] + "…"}"'
    if k == "press":
        return f"press {a.get('key')}" + (f" ×{a['presses']}" if (a.get("presses") or 1) > 1 else "")
    if k in ("key_down", "key_up"):
        return f"{k.replace('_', ' ')} {a.get('key')}"
    if k == "hotkey":
        return "hotkey " + "+".join(map(str, a.get("keys") or []))
    if k == "wait":
        return f"wait {rounded(float(a.get('seconds') or 0))} s"
    if k == "done":
        return "done" + (f": {a['answer']}" if a.get("answer") else "")
    if k == "fail":
        return "give up" + (f": {a['reason']}" if a.get("reason") else "")
    return k


def flags(s: dict) -> list[str]:
    """Which filters the step belongs to: error, risky, healed (and stop for a safety stop)."""
    out = []
    if s.get("ok") is False or s.get("error") or s.get("parse_error") or s.get("safety_stop"):
        out.append("error")
    if s.get("approved_risky") or s.get("risky") or "not approved" in str(s.get("safety_stop") or ""):
        out.append("risky")
    g = s.get("grounding") if isinstance(s.get("grounding"), dict) else {}
    el = s.get("element") if isinstance(s.get("element"), dict) else {}
    if s.get("healed") or el.get("healed") or g.get("healed") or g.get("method") not in (None, "template") \
            or g.get("crop") not in (None, "crop"):
        out.append("healed")
    if s.get("safety_stop"):
        out.append("stop")
    return out


def _percent(area: list | None, x: float, y: float) -> tuple[float, float] | None:
    if not area or len(area) != 4 or not all(_num(v) for v in area) or not area[2] or not area[3]:
        return None
    return round((x - area[0]) / area[2] * 100, 2), round((y - area[1]) / area[3] * 100, 2)


def _marks(s: dict) -> tuple[list[dict], dict | None]:
    """The action's points and the target's box, in percent of the screenshot (via screen_area)."""
    a, area = s.get("action") if isinstance(s.get("action"), dict) else {}, s.get("screen_area")
    pts = [(a.get("x1"), a.get("y1"), "start"), (a.get("x2"), a.get("y2"), "end")] if a.get("type") == "drag" \
        else [(a.get("x"), a.get("y"), "point")]
    marks = []
    for x, y, cls in pts:
        if _num(x) and _num(y) and (p := _percent(area, x, y)):
            marks.append({"x": p[0], "y": p[1], "cls": cls, "outside": not (0 <= p[0] <= 100 and 0 <= p[1] <= 100)})
    box = None
    for key in ("element", "match", "grounding"):
        b = (s.get(key) or {}).get("box") if isinstance(s.get(key), dict) else None
        if isinstance(b, list) and len(b) == 4 and all(_num(v) for v in b):
            p0, p1 = _percent(area, b[0], b[1]), _percent(area, b[0] + b[2], b[1] + b[3])
            if p0 and p1:
                box = {"l": p0[0], "t": p0[1], "w": round(p1[0] - p0[0], 2), "h": round(p1[1] - p0[1], 2), "src": key}
                break
    return marks, box


def _target(s: dict) -> list[tuple[str, str]]:
    """The element acted on, as (label, value) rows, from whatever the step carries."""
    rows: list[tuple[str, str]] = []
    a = s.get("action") if isinstance(s.get("action"), dict) else {}
    if a.get("target"):
        rows.append(("target", str(a["target"])))
    for key in ("element", "match", "grounding"):
        v = s.get(key)
        if isinstance(v, dict) and v:
            rows.append((key, ", ".join(f"{k} {json.dumps(rounded(x), ensure_ascii=False) if not isinstance(x, str) else x}"
                                        for k, x in v.items() if x not in (None, "", []))))
        elif v:
            rows.append((key, str(v)))
    anchor = s.get("anchor") if isinstance(s.get("anchor"), dict) else {}
    for key, label in (("text", "text at the point"), ("label", "field label")):
        if anchor.get(key):
            rows.append((label, str(anchor[key])))
    title = (anchor.get("window") or {}).get("title") if isinstance(anchor.get("window"), dict) else None
    if title:
        rows.append(("window", str(title)))
    return rows


def _facts(s: dict) -> list[tuple[str, str]]:
    """Where the step comes from (fill row and script step, replayed step) and what it typed."""
    out = []
    if s.get("row") is not None:
        out.append(("data row", str(s["row"])))
    if s.get("step") is not None:
        out.append(("script step", f"{s['step']}" + (f": {s['step_name']}" if s.get("step_name") else "")))
    if s.get("replay_of") is not None:
        out.append(("replay of recorded step", str(s["replay_of"])))
    if s.get("var"):
        out.append(("typed value of", f"{{{s['var']}}}"))
    if s.get("secret"):
        out.append(("secret", f"{s['secret']} (typed from the environment; the value is never written)"))
    if s.get("settled") is False:
        out.append(("screen", "still changing when the next screenshot was taken"))
    o = s.get("observation") if isinstance(s.get("observation"), dict) else None
    if o:  # agent run --observe screenshot+elements / som: what the model was shown
        seen = f"{o.get('mode')}: {o.get('listed', 0)} elements listed"
        if _num(o.get("tokens")):
            seen += f" (≈{o['tokens']} tokens, list {o.get('sha')})"
        if o.get("omitted"):
            seen += f", {o['omitted']} more left out by the cap"
        out.append(("model saw", seen + (f"; {o['note']}" if o.get("note") else "")))
    if s.get("part_of") is not None:
        out.append(("part of", f"the model's action at step {s['part_of']} on the element"))
    if s.get("check"):
        out.append(("check", str(s["check"])))
    return out


def _model(s: dict) -> dict | None:
    info = s.get("model") if isinstance(s.get("model"), dict) else \
        {k: s[k] for k in ("model_s", "prompt_s", "prompt_tokens", "completion_tokens") if k in s}
    out = {k: s.get(k) for k in ("model_output", "memory", "action_text", "feedback_given", "parse_error")}
    if not info and not any(out.values()):
        return None
    tok = [f"{info[k]:,} {k.split('_')[0]}" for k in ("prompt_tokens", "completion_tokens") if _num(info.get(k))]
    return {**out, "tokens": " + ".join(tok), "model_s": info.get("model_s"), "prompt_s": info.get("prompt_s"),
            "total_tokens": sum(info.get(k) or 0 for k in ("prompt_tokens", "completion_tokens"))}


def _timings(s: dict) -> str:
    t = s.get("timings") if isinstance(s.get("timings"), dict) else {}
    m = s.get("model") if isinstance(s.get("model"), dict) else {}
    parts = {**({"model": m["model_s"]} if _num(m.get("model_s")) else {}),
             **{k[:-2] if k.endswith("_s") else k: v for k, v in t.items() if _num(v)}}
    return " · ".join(f"{k} {v * 1000:.0f} ms" if v < 10 else f"{k} {v:.1f} s" for k, v in parts.items())


def _after(s: dict, nxt: dict | None) -> tuple[str | None, str]:
    if isinstance(s.get("after_screenshot"), str):
        return s["after_screenshot"], "after"
    a = s.get("action") if isinstance(s.get("action"), dict) else {}
    if nxt is not None and s.get("screen_changed"):  # an answer not carried out (agent.recheck)
        return nxt.get("screenshot"), "the screen had changed to this while the model was thinking"
    if nxt is not None and not a:  # a parse error: nothing was done, the screen stayed as the model saw it
        return nxt.get("screenshot"), "the screen the model was answering about"
    if nxt is not None and a.get("type") not in ("done", "fail") and not s.get("safety_stop"):
        return nxt.get("screenshot"), "after (the next step's screen)"
    return None, ""


def step_view(s: dict, nxt: dict | None, store: ImageStore, t0: float | None) -> dict:
    """The template's record of one (masked) step; ``nxt`` is the step after it, if any."""
    a = s.get("action") if isinstance(s.get("action"), dict) else None
    fl = flags(s)
    if s.get("parse_error"):
        kind, status = "parse error", {"cls": "bad", "text": f"unusable model answer: {s['parse_error']}"}
    elif s.get("screen_changed"):
        kind, status = "asked again", {"cls": "stop", "text": f"{action_words(s.get('not_carried_out'))}: "
                                                              f"{s['screen_changed']}"}
    elif s.get("safety_stop"):
        kind, status = (a or {}).get("type", "?"), {"cls": "stop", "text": f"safety stop: {s['safety_stop']}"}
    elif "error" in fl:
        kind, status = (a or {}).get("type", "?"), {"cls": "bad", "text": f"failed: {s.get('error') or 'not ok'}"}
    else:
        kind, status = (a or {}).get("type", "?"), {"cls": "ok", "text": "dry run" if s.get("dry_run") else "ok"}
    marks, box = _marks(s)
    before = store.add(s.get("screenshot"))
    after_rel, after_label = _after(s, nxt)
    after = store.add(after_rel) if after_rel else None
    crop = store.add((s.get("anchor") or {}).get("crop")) if isinstance(s.get("anchor"), dict) else None
    size = store.size(before)
    ev = [e for e in s.get("evidence") or [] if isinstance(e, list) and len(e) == 2]
    more = {k: v for k, v in s.items() if k not in _KNOWN and v not in (None, "", [], {})}
    t = s.get("t")
    return {
        "index": s.get("index"), "kind": kind, "words": action_words(a) if a else kind, "status": status,
        "flags": fl, "error": "error" in fl, "before": before, "thumb": store.thumb(before),
        "before_label": "the screen when it failed" if "error" in fl and not s.get("screen_area") else "before",
        "before_size": f"{size[0]}x{size[1]}" if size else "", "marks": marks, "box": box,
        "after": after if after != before else None, "after_label": after_label, "crop": crop,
        "target": _target(s), "facts": _facts(s), "approved_risky": s.get("approved_risky"), "evidence": ev,
        "gate_open": bool(s.get("approved_risky")) or "risky" in fl,
        "thought": s.get("thought"), "model": _model(s), "timings": _timings(s),
        "when": f"+{t - t0:.1f} s" if _num(t) and _num(t0) and t >= t0 else "",
        "action_json": json.dumps(rounded(a), ensure_ascii=False) if a else "",
        "masked": "***" in json.dumps(a or {}) or bool(s.get("secret")),
        "more": json.dumps(rounded(more), ensure_ascii=False, indent=1) if more else "",
    }


def first_error(steps: list[dict]) -> dict | None:
    """The first failing step (its index and why), which the report puts first."""
    for n, s in enumerate(steps):
        if s["error"]:
            return {"pos": n, "index": s["index"], "text": s["status"]["text"], "words": s["words"]}
    return None
