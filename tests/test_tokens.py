"""Visual-token arithmetic matches transformers' own GLM-4V smart_resize."""

import pytest

from model.tokens import glm_image_tokens, glm_resize


@pytest.mark.parametrize("w, h, tokens", [(1920, 1080, 2691), (2560, 1440, 4641), (3840, 2160, 6032)])
def test_reference_table(w, h, tokens):
    assert glm_image_tokens(w, h) == tokens


def test_matches_transformers():
    mod = pytest.importorskip("transformers.models.glm4v.image_processing_pil_glm4v")
    for w, h in [(1280, 800), (1920, 1080), (640, 400), (20, 500), (7000, 300), (100, 100)]:
        ref_h, ref_w = mod.smart_resize(num_frames=2, height=h, width=w, min_pixels=12544, max_pixels=9633792)
        assert glm_resize(w, h) == (ref_w, ref_h)
