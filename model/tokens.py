"""How many visual tokens a screenshot costs GLM-4.5V — the main cost driver of a desktop agent.

GLM-4.5V's image processor (transformers ``models/glm4v/image_processing_glm4v.py``, ``smart_resize``)
treats an image as two frames (temporal patch 2), rounds height and width to multiples of 28 (patch 14
× spatial merge 2) and shrinks only images above ``max_pixels``; each 28×28 cell is one token.
The limits are the checkpoint's ``preprocessor_config.json`` ``size`` (shortest_edge 12544,
longest_edge 9633792, see shared/reference/glm-4.5v-integration.md §4).
"""

from __future__ import annotations

import math

FACTOR = 28
TEMPORAL = 2
MIN_PIXELS = 12544
MAX_PIXELS = 9633792


def glm_resize(width: int, height: int, *, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """The (width, height) GLM-4.5V's processor resizes an image to (same arithmetic as transformers)."""
    if height < FACTOR or width < FACTOR:
        scale = max(FACTOR / height, FACTOR / width)
        height, width = int(height * scale), int(width * scale)
    h_bar = round(height / FACTOR) * FACTOR
    w_bar = round(width / FACTOR) * FACTOR
    if TEMPORAL * h_bar * w_bar > max_pixels:
        beta = math.sqrt((TEMPORAL * height * width) / max_pixels)
        h_bar = max(FACTOR, math.floor(height / beta / FACTOR) * FACTOR)
        w_bar = max(FACTOR, math.floor(width / beta / FACTOR) * FACTOR)
    elif TEMPORAL * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (TEMPORAL * height * width))
        h_bar = math.ceil(height * beta / FACTOR) * FACTOR
        w_bar = math.ceil(width * beta / FACTOR) * FACTOR
    return w_bar, h_bar


def glm_image_tokens(width: int, height: int) -> int:
    w, h = glm_resize(width, height)
    return (w // FACTOR) * (h // FACTOR)
