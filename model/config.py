"""Which model to use, from flags, the environment and a config file (in that order of precedence).

Environment: ``AGENT_MODEL_URL`` (an OpenAI-compatible base URL, e.g. ``http://gpu-box:8000/v1``),
``AGENT_MODEL`` (the served model name, e.g. ``glm-4.5v``), ``AGENT_API_KEY``, ``AGENT_MODEL_PATH``
(a local checkpoint for the transformers backend), ``AGENT_MODEL_FAMILY``, ``AGENT_MODEL_TIMEOUT``
(seconds one request may take), ``AGENT_OBSERVE`` (what the model is shown each step).

Config file: ``$AGENT_CONFIG`` or ``~/.config/desk-agent/config.toml``::

    [model]
    url = "http://gpu-box:8000/v1"
    name = "glm-4.5v"
    api_key = ""            # better: AGENT_API_KEY in the environment
    family = "glm45v"       # glm41v, uitars, generic (gemma-3, step-3, kimi-vl, any other VLM)
    observe = "screenshot"  # or "screenshot+elements", "som" (numbered marks + element list)
    element_tokens = 2000   # cap of the element list (estimated tokens)
    timeout = 120           # seconds one request may take (a run's --max-seconds still wins)
    thinking = true
    max_tokens = 8192       # the official GLM-V GUI-agent example's budget

A missing model is not an error here (``load_settings`` returns None); the caller tells the person
how to point at an endpoint or serve GLM-4.5V.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from model.base import Model, ModelError
from model.marks import DEFAULT_TOKENS, observe_mode

DEFAULT_NAME = "glm-4.5v"

NO_MODEL_HELP = """No model is configured. desk-agent needs GLM-4.5V (or another supported VLM):
  • an OpenAI-compatible endpoint (vLLM or SGLang on your GPUs, or hosted):
        agent run "GOAL" --model-url http://GPU-HOST:8000/v1 --model glm-4.5v
    or  export AGENT_MODEL_URL=http://GPU-HOST:8000/v1 AGENT_MODEL=glm-4.5v
  • serve it yourself: `agent serve` prints the vLLM command for the GPUs present
    (`agent serve --launch` starts it and waits until it is ready)
  • local weights with transformers: --model-path /path/to/GLM-4.5V  (pip install -e '.[local]')
  • or put [model] url/name in ~/.config/desk-agent/config.toml"""


@dataclass(frozen=True)
class ModelSettings:
    backend: str = "openai"  # "openai" | "transformers"
    url: str | None = None
    name: str = DEFAULT_NAME
    api_key: str | None = None
    path: str | None = None
    family: str = "glm45v"
    timeout: float = 120.0
    thinking: bool = True
    max_tokens: int = 8192  # zai-org/GLM-V examples/gui-agent/glm-45v/gui_agent_45v.py
    observe: str = "screenshot"  # screenshot | screenshot+elements | som (model.marks.OBSERVE_MODES)
    element_tokens: int = DEFAULT_TOKENS

    def describe(self) -> str:
        where = self.url if self.backend == "openai" else self.path
        shown = "" if self.observe == "screenshot" else f", observe {self.observe}"
        return f"{self.name} via {self.backend} ({where}), family {self.family}{shown}"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("AGENT_CONFIG"):
        return Path(env["AGENT_CONFIG"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "desk-agent" / "config.toml"


def _from_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ModelError(f"{path}: not valid TOML: {e}") from None
    section = data.get("model", {})
    if not isinstance(section, dict):
        raise ModelError(f"{path}: [model] must be a table")
    known = {"backend", "url", "name", "api_key", "path", "family", "timeout", "thinking", "max_tokens", "observe",
             "element_tokens"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ModelError(f"{path}: unknown key(s) in [model]: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return section


def load_settings(flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  path: Path | None = None) -> ModelSettings | None:
    """Merge file < environment < flags. None when neither a URL nor a path is given anywhere."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = dict(_from_file(path or config_path(env)))
    env_map = {"url": "AGENT_MODEL_URL", "name": "AGENT_MODEL", "api_key": "AGENT_API_KEY",
               "path": "AGENT_MODEL_PATH", "family": "AGENT_MODEL_FAMILY", "timeout": "AGENT_MODEL_TIMEOUT",
               "observe": "AGENT_OBSERVE"}
    merged.update({k: env[v] for k, v in env_map.items() if env.get(v)})
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    if not merged.get("url") and not merged.get("path"):
        return None
    if "backend" not in merged:
        merged["backend"] = "openai" if merged.get("url") else "transformers"
    s = ModelSettings()
    try:
        s = replace(s, **merged)
    except TypeError as e:
        raise ModelError(f"bad model settings: {e}") from None
    s = _checked(s)
    if s.backend not in ("openai", "transformers"):
        raise ModelError(f"unknown model backend {s.backend!r}: use openai or transformers")
    if s.backend == "openai" and not s.url:
        raise ModelError("the openai backend needs a URL (--model-url or AGENT_MODEL_URL)")
    if s.backend == "transformers" and not s.path:
        raise ModelError("the transformers backend needs a checkpoint path (--model-path or AGENT_MODEL_PATH)")
    return s


def _checked(s: ModelSettings) -> ModelSettings:
    """``timeout`` and ``max_tokens`` as numbers (the environment gives strings), and positive;
    ``element_tokens`` a sane cap; ``observe`` one of the modes."""
    try:
        timeout = float(s.timeout)
    except (TypeError, ValueError):
        raise ModelError(f"the model timeout must be a number of seconds, got {s.timeout!r} "
                         "(--model-timeout, AGENT_MODEL_TIMEOUT or config key timeout)") from None
    if not timeout > 0:
        raise ModelError(f"the model timeout must be more than 0 seconds, got {s.timeout!r}")
    if isinstance(s.max_tokens, bool) or not isinstance(s.max_tokens, int) or s.max_tokens < 1:
        raise ModelError(f"max_tokens must be a whole number of at least 1, got {s.max_tokens!r}")
    if isinstance(s.element_tokens, bool) or not isinstance(s.element_tokens, int) or s.element_tokens < 100:
        raise ModelError(f"element_tokens must be a whole number of at least 100, got {s.element_tokens!r}")
    try:
        observe = observe_mode(s.observe)
    except ValueError as e:
        raise ModelError(f"{e} (--observe, AGENT_OBSERVE or config key observe)") from None
    return replace(s, timeout=timeout, observe=observe)


def build_model(s: ModelSettings) -> Model:
    if s.backend == "openai":
        from model.openai_backend import OpenAIBackend

        return OpenAIBackend(s.url or "", s.name, api_key=s.api_key, timeout=s.timeout)
    from model.transformers_backend import TransformersBackend

    return TransformersBackend(s.path or "", name=s.name)
