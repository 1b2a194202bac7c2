"""Task definitions: YAML data in, concrete seeded task instances out.

A task (the OSWorld / AndroidWorld shape) is *parameters drawn from a seed*, a *goal* built from them,
a *set-up* that starts an app and seeds its state, *checks* that read the real final state (sqlite,
files, the app's own state file), the *expected ending* (``done``, or ``fail`` for impossible tasks)
and the name of a scripted *oracle* solution. Everything but the oracle is data in ``tasks/defs/*.yaml``
so a new task is a few lines, not a class; nothing in a definition is ever evaluated as code: templates
are ``str.format`` fields over the parameters (``{route[0]}``, ``{passenger}``), nothing more.

Parameter kinds (each draws from ``random.Random("<task id>:<seed>")``, so a seed is reproducible):

* ``{choice: [a, b, ...]}``      one of the items (an item may be a list or mapping);
* ``{int: [lo, hi]}``            an integer, both ends included;
* ``{date: [YYYY-MM-DD, YYYY-MM-DD]}`` an ISO date in the range;
* ``{sample: [...], k: 3, join: " "}`` k distinct items joined into a string;
* ``{value: x}``                  a constant.

``derive`` then adds values templated from the drawn ones (``origin: "{route[0]}"``).
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFS = Path(__file__).parent / "defs"
KNOWN_KEYS = {"id", "app", "goal", "params", "derive", "setup", "expect", "check", "oracle", "tags",
              "max_steps", "description"}


class TaskError(Exception):
    """A task definition is invalid or names something that does not exist."""


@dataclass(frozen=True)
class TaskSpec:
    """One task definition as written in YAML (before a seed picks its parameters)."""

    id: str
    app: str
    goal: str
    params: dict[str, Any] = field(default_factory=dict)
    derive: dict[str, str] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    expect: str = "done"
    check: list[dict[str, Any]] = field(default_factory=list)
    oracle: str | None = None
    tags: tuple[str, ...] = ()
    max_steps: int = 30
    description: str = ""
    source: str = ""

    def instantiate(self, seed: int) -> "TaskInstance":
        rng = random.Random(f"{self.id}:{seed}")
        values: dict[str, Any] = {}
        for name, rule in self.params.items():
            values[name] = _draw(rng, rule, f"{self.id}: parameter {name!r}")
        for name, template in self.derive.items():
            values[name] = render(template, values, f"{self.id}: derive {name!r}")
        return TaskInstance(self, seed, values, render(self.goal, values, f"{self.id}: goal"))


@dataclass(frozen=True)
class TaskInstance:
    spec: TaskSpec
    seed: int
    params: dict[str, Any]
    goal: str

    @property
    def key(self) -> str:
        return f"{self.spec.id}-s{self.seed}"

    def render(self, obj: Any) -> Any:
        """Fill templates in a set-up or check value (strings, lists and mappings of them)."""
        return render(obj, self.params, self.spec.id)


def _draw(rng: random.Random, rule: Any, where: str) -> Any:
    if not isinstance(rule, dict) or len({"choice", "int", "date", "sample", "value"} & set(rule)) != 1:
        raise TaskError(f"{where}: expected one of choice/int/date/sample/value, got {rule!r}")
    if "value" in rule:
        return rule["value"]
    if "choice" in rule:
        items = rule["choice"]
        if not isinstance(items, list) or not items:
            raise TaskError(f"{where}: choice needs a non-empty list")
        return rng.choice(items)
    if "int" in rule:
        lo, hi = rule["int"]
        return rng.randint(int(lo), int(hi))
    if "date" in rule:
        lo, hi = (dt.date.fromisoformat(str(d)) for d in rule["date"])
        if hi < lo:
            raise TaskError(f"{where}: date range ends before it starts")
        return (lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))).isoformat()
    items, k = rule["sample"], int(rule.get("k", 1))
    if k > len(items):
        raise TaskError(f"{where}: cannot sample {k} of {len(items)} items")
    return str(rule.get("join", " ")).join(str(x) for x in rng.sample(items, k))


class _Strict(dict):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def render(obj: Any, values: dict[str, Any], where: str = "") -> Any:
    """``str.format`` over the parameters, recursively. A template that is exactly ``{name}`` keeps the
    value's type (an int stays an int), so checks can compare numbers."""
    if isinstance(obj, str):
        names = [f for _, f, _, _ in string.Formatter().parse(obj) if f is not None]
        if len(names) == 1 and obj == "{" + names[0] + "}" and names[0] in values:
            return values[names[0]]
        try:
            return obj.format_map(_Strict(values))
        except (KeyError, IndexError, ValueError, AttributeError) as e:
            raise TaskError(f"{where}: cannot fill {obj!r}: {type(e).__name__} {e}") from None
    if isinstance(obj, list):
        return [render(x, values, where) for x in obj]
    if isinstance(obj, dict):
        return {k: render(v, values, where) for k, v in obj.items()}
    return obj


def _spec(raw: dict[str, Any], source: str) -> TaskSpec:
    if not isinstance(raw, dict) or "id" not in raw:
        raise TaskError(f"{source}: every task needs an id, got {raw!r:.80}")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise TaskError(f"{source}: task {raw['id']}: unknown key(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(KNOWN_KEYS))}")
    for need in ("app", "goal"):
        if need not in raw:
            raise TaskError(f"{source}: task {raw['id']} needs {need!r}")
    if raw.get("expect", "done") not in ("done", "fail"):
        raise TaskError(f"{source}: task {raw['id']}: expect must be done or fail")
    return TaskSpec(id=raw["id"], app=raw["app"], goal=raw["goal"], params=raw.get("params") or {},
                    derive=raw.get("derive") or {}, setup=raw.get("setup") or {}, expect=raw.get("expect", "done"),
                    check=raw.get("check") or [], oracle=raw.get("oracle"), tags=tuple(raw.get("tags") or ()),
                    max_steps=int(raw.get("max_steps", 30)), description=raw.get("description", ""), source=source)


def load_specs(folder: Path = DEFS) -> dict[str, TaskSpec]:
    """Every task in ``folder/*.yaml``, by id. Duplicate ids are an error."""
    out: dict[str, TaskSpec] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            docs = yaml.safe_load(path.read_text()) or []
        except yaml.YAMLError as e:
            raise TaskError(f"{path}: not valid YAML: {e}") from None
        for raw in docs:
            spec = _spec(raw, path.name)
            if spec.id in out:
                raise TaskError(f"{path.name}: duplicate task id {spec.id} (also in {out[spec.id].source})")
            out[spec.id] = spec
    return out


SUITES = {
    "bundled": lambda s: s.app != "miniwob",
    "miniwob": lambda s: s.app == "miniwob",
    "miniwob-core": lambda s: s.app == "miniwob" and "core" in s.tags,
    "adversarial": lambda s: "adversarial" in s.tags,
    "smoke": lambda s: "smoke" in s.tags,
    "all": lambda s: True,
}


def select(suite: str, specs: dict[str, TaskSpec] | None = None) -> list[TaskSpec]:
    """A named suite, an app name (``booking``), or comma-separated task ids / id prefixes."""
    specs = load_specs() if specs is None else specs
    if suite == "miniwob-all":
        from tasks.miniwob import all_specs

        return all_specs()
    if suite in SUITES:
        return [s for s in specs.values() if SUITES[suite](s)]
    apps = {s.app for s in specs.values()}
    if suite in apps:
        return [s for s in specs.values() if s.app == suite]
    chosen: list[TaskSpec] = []
    for part in (p.strip() for p in suite.split(",") if p.strip()):
        hits = [s for s in specs.values() if s.id == part] or [s for s in specs.values() if s.id.startswith(part)]
        if not hits:
            raise TaskError(f"no task or suite {part!r}; suites: {', '.join(SUITES)}, miniwob-all; apps: {', '.join(sorted(apps))}; "
                            f"see `agent eval --list`")
        chosen += [h for h in hits if h not in chosen]
    return chosen
