"""Scoring an element source against an app's own account of its widgets (the ``elements`` ground truth).

The bundled Tk apps publish, in their state file, every widget's role, the name a person reads for it,
its value, states and its box from Tk's ``winfo`` (``tasks.apps.state.widget_truth``). A source is
judged on the *interactive* ones:

* a predicted element **matches** a truth widget when the roles are equal, the boxes overlap with
  IoU ≥ 0.5 and the names agree by whole words after normalisation (``name_agrees``);
* **recall** = matched truth widgets / truth widgets; **precision** = matched predictions /
  interactive predictions; **name accuracy** = of the pairs found by role and box alone, the share
  whose names agree (so a wrong label counts against naming, not against detection);
* **state accuracy**: of the matched tick boxes and radios, the share whose checked state is right.

Tests and ``bench/elements.py`` both use this, so the figures a person reads are the ones tests hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from actions.coords import Rect
from agent.elements.ground import name_score
from agent.elements.model import INTERACTIVE, Element, iou

IOU = 0.5


@dataclass(frozen=True)
class Truth:
    key: str
    role: str
    name: str
    box: Rect
    value: str | None = None
    group: str | None = None
    row: str | None = None
    states: frozenset[str] = frozenset()


def truth_from_state(state: dict) -> list[Truth]:
    """The interactive, mapped widgets of an app's state file."""
    out = []
    for w in state.get("elements", []):
        if w.get("role") in INTERACTIVE and w.get("mapped", True) and w["box"][2] > 1:
            out.append(Truth(w["key"], w["role"], w.get("name") or "", Rect(*w["box"]), w.get("value"),
                             w.get("group"), w.get("row"), frozenset(w.get("states") or ())))
    return out


def name_agrees(truth: str, predicted: str | None) -> bool:
    """Whole-word agreement after normalisation; OCR noise inside a word is forgiven, a different
    word never is ("Male" is not "Female")."""
    if not (truth or "").strip() and not (predicted or "").strip():
        return True  # nothing on screen names it, and nothing was made up
    return name_score(truth, predicted) >= 0.9 and name_score(predicted or "", truth) >= 0.9


def best_match(t: Truth, elements: Iterable[Element], *, need_name: bool = True) -> Element | None:
    """The element of ``t``'s role overlapping its box most (IoU ≥ 0.5), with an agreeing name."""
    cands = [(iou(t.box, e.bounds), e) for e in elements if e.role == t.role]
    cands = [(v, e) for v, e in cands if v >= IOU and (not need_name or name_agrees(t.name, e.name))]
    return max(cands, key=lambda p: p[0])[1] if cands else None


@dataclass
class Score:
    truth: int = 0
    predicted: int = 0
    matched: int = 0
    located: int = 0  # pairs by role + IoU alone
    named: int = 0  # of those, with agreeing names
    states: int = 0
    states_right: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def name_accuracy(self) -> float:
        return self.named / self.located if self.located else 1.0

    @property
    def state_accuracy(self) -> float:
        return self.states_right / self.states if self.states else 1.0

    def add(self, other: "Score") -> None:
        for k in ("truth", "predicted", "matched", "located", "named", "states", "states_right"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.misses += other.misses
        self.extras += other.extras


def score(truth: list[Truth], elements: Iterable[Element]) -> Score:
    """Recall, precision, name and state accuracy of ``elements`` against ``truth`` (one-to-one)."""
    preds = [e for e in elements if e.interactive]
    s = Score(truth=len(truth), predicted=len(preds))
    used: set[int] = set()
    for t in truth:
        free = [e for e in preds if id(e) not in used]
        loc = best_match(t, free, need_name=False)
        if loc is not None:
            s.located += 1
            s.named += name_agrees(t.name, loc.name)
        hit = best_match(t, free)
        if hit is None:
            got = f"; nearest {loc.role} {loc.name!r}" if loc is not None else ""
            s.misses.append(f"{t.role} {t.name!r} ({t.key}){got}")
            continue
        used.add(id(hit))
        s.matched += 1
        if t.role in ("checkbox", "radio"):
            s.states += 1
            s.states_right += ("checked" in t.states) == ("checked" in hit.states)
    s.extras = [f"{e.role} {e.name!r}" for e in preds if id(e) not in used]
    return s
