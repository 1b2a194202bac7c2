"""Which model family a name means: the registry of prompts + parsers (``--model-family``).

Each family lives in its own module and is imported only when asked for, so a run with one model
loads one prompt. Aliases are the names people type: a model's own name ("glm-4.1v-9b-thinking",
"qwen2.5-vl", "gemma-3") or the family's ("glm45v", "uitars", "generic"). Models without GUI
grounding of their own (Gemma-3, Step-3, Kimi-VL) take the generic family and act through marks or
element lists (``--observe som``).
"""

from __future__ import annotations

from model.family import ModelFamily

_ALIASES = {
    "glm45v": "glm45v", "glm": "glm45v", "glm-4.5v": "glm45v", "glm4.5v": "glm45v", "glm-45v": "glm45v",
    "glm41v": "glm41v", "glm-4.1v": "glm41v", "glm4.1v": "glm41v", "glm-4.1v-thinking": "glm41v",
    "glm-4.1v-9b-thinking": "glm41v",
    "uitars": "uitars", "ui-tars": "uitars", "qwen25vl": "uitars", "ui-tars-1.5": "uitars",
    "qwen2.5-vl": "uitars",
    # models without GUI grounding of their own act through marks or element lists (--observe som)
    "generic": "generic", "openai": "generic", "gemma-3": "generic", "gemma3": "generic", "step-3": "generic",
    "step3": "generic", "kimi-vl": "generic", "kimi": "generic",
}


def get_family(name: str) -> ModelFamily:
    """The family for ``name`` (case-insensitive; aliases allowed); ``ValueError`` lists the names."""
    key = _ALIASES.get(str(name).strip().lower())
    if key == "glm45v":
        from model.glm45v import Glm45vFamily

        return Glm45vFamily()
    if key == "glm41v":
        from model.glm41v import Glm41vFamily

        return Glm41vFamily()
    if key == "uitars":
        from model.uitars import UITarsFamily

        return UITarsFamily()
    if key == "generic":
        from model.generic import GenericFamily

        return GenericFamily()
    raise ValueError(f"unknown model family {name!r}; known: {', '.join(sorted(_ALIASES))}")
