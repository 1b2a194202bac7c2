"""Secrets written as ``{{secret:NAME}}``.

A script, a model or a recording only ever holds the placeholder. The value is read from the
environment variable ``NAME`` at the moment of typing (``resolve``) and nowhere else, and every
string that leaves the process (screen log, recording, report, exception text) goes through
``mask``, which shows a placeholder as ``***`` and also blanks any live secret value that slipped
into free text (defence in depth: a model may echo what it typed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from actions.errors import MissingSecret

PLACEHOLDER = re.compile(r"\{\{\s*secret:([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MASK = "***"

_seen_names: set[str] = set()


def names_in(text: str) -> list[str]:
    """The secret names a text refers to, in order."""
    return PLACEHOLDER.findall(text)


def has_secret(text: str) -> bool:
    return bool(PLACEHOLDER.search(text))


def resolve(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace each placeholder with the environment's value. Call only right before typing."""
    env = os.environ if env is None else env

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise MissingSecret(name)
        _seen_names.add(name)
        return env[name]

    return PLACEHOLDER.sub(value, text)


def _live_values(env: Mapping[str, str], extra_names: Iterable[str]) -> list[str]:
    names = set(_seen_names) | set(extra_names)
    vals = [env[n] for n in names if n in env and len(env[n]) >= 3]
    return sorted(vals, key=len, reverse=True)


def mask(text: str, env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> str:
    """Text safe to show or store: placeholders become ``***`` and live secret values too."""
    env = os.environ if env is None else env
    out = PLACEHOLDER.sub(MASK, text)
    for val in _live_values(env, [*names, *names_in(text)]):
        out = out.replace(val, MASK)
    return out


def scrub_values(text: str, env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> str:
    """Blank live secret values but keep placeholders (a recording must stay replayable)."""
    env = os.environ if env is None else env
    out = text
    for val in _live_values(env, [*names, *names_in(text)]):
        out = out.replace(val, MASK)
    return out


def scrub_obj(obj, env: Mapping[str, str] | None = None):
    """``scrub_values`` applied to every string inside a JSON-like object."""
    if isinstance(obj, str):
        return scrub_values(obj, env)
    if isinstance(obj, Mapping):
        return {k: scrub_obj(v, env) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub_obj(v, env) for v in obj]
    return obj
