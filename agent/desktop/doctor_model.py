"""The doctor's model check: is the configured GLM-4.5V endpoint (or local checkpoint) usable?

Kept beside ``agent/doctor.py`` and registered on import, so the display checks stay free of model
code. Uses the same settings as ``agent run`` (flags aside): config file < environment.
"""

from __future__ import annotations

from pathlib import Path

from agent.desktop.doctor import Check, register_check
from model.base import ModelError
from model.config import load_settings


@register_check("model endpoint", needs_display=False)
def model_endpoint(ctx) -> Check:  # noqa: ANN001 - the doctor's context
    try:
        s = load_settings()
    except ModelError as e:
        return Check("model endpoint", "fail", str(e))
    if s is None:
        return Check("model endpoint", "skip",
                     "no model configured (AGENT_MODEL_URL / --model-url); `agent serve` prints the vLLM command")
    if s.backend == "transformers":
        p = Path(s.path or "")
        if not (p / "config.json").exists():
            return Check("model endpoint", "fail", f"{p} holds no checkpoint (config.json missing)", {"path": str(p)})
        return Check("model endpoint", "ok", f"local checkpoint {p} (loaded at run time)", {"path": str(p)})
    from model.openai_backend import OpenAIBackend

    try:
        summary = OpenAIBackend(s.url or "", s.name, api_key=s.api_key, timeout=5, retries=0).check()
    except (ModelError, ValueError) as e:
        return Check("model endpoint", "fail", str(e), {"url": s.url, "model": s.name})
    return Check("model endpoint", "ok", f"{summary}; using {s.name!r}, family {s.family}",
                 {"url": s.url, "model": s.name})
