"""The local transformers backend, against a tiny random-weight GLM-4.5V built here (no hub access),
and a tiny random GLM-4.1V (``Glm4vForConditionalGeneration``) driven by the GLM-4.1V family's prompt.

A module fixture saves a tiny ``Glm4vMoeForConditionalGeneration`` (float32, ~60k parameters), a
word-level tokenizer with GLM's special tokens and a GLM-style chat template, and a
``Glm4vImageProcessorPil`` config into a tmp folder, so ``TransformersBackend(path)`` goes through
the real loading path: ``AutoModelForImageTextToText.from_pretrained(local_files_only=True)`` and
``AutoProcessor`` — or, without torchvision, the fallback processor.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require
from PIL import Image

torch = require("torch", "needs torch: bash scripts/install.sh --local")
require("transformers", "needs transformers: bash scripts/install.sh --local")
require("transformers.models.glm4v_moe", "needs transformers>=4.56 (GLM-4.5V)")

from model.base import GenerationConfig, ImagePart, Message, ModelError, TextPart  # noqa: E402
from model.transformers_backend import GlmFallbackProcessor, TransformersBackend  # noqa: E402

SPECIAL = [
    "<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>",
    "<|image|>", "<|video|>", "<|begin_of_box|>", "<|end_of_box|>", "<think>", "</think>", "/nothink",
]
WORDS = ["[UNK]", "hello", "world", "click", "the", "button", "ok", "describe", "screen", "what", "is", "on",
         "you", "are", "an", "agent", "[", "]", ",", ".", "1", "2", "3"]

# GLM-style: [gMASK]<sop>, <|role|> turns, an image as <|begin_of_image|><|image|><|end_of_image|>,
# and with enable_thinking=false a /nothink on the last user turn plus an empty <think></think>.
CHAT_TEMPLATE = (
    "[gMASK]<sop>"
    "{%- for m in messages -%}"
    "<|{{ m.role }}|>"
    "{%- if m.content is string -%}{{ m.content }}"
    "{%- else -%}{%- for item in m.content -%}"
    "{%- if item.type == 'image' -%}<|begin_of_image|><|image|><|end_of_image|>"
    "{%- elif item.type == 'text' -%}{{ item.text }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- if m.role == 'user' and loop.last and enable_thinking is defined and not enable_thinking %} /nothink{% endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>"
    "{%- if enable_thinking is defined and not enable_thinking -%}<think></think>{%- endif -%}"
    "{%- endif -%}"
)

MAX_PIXELS = 14 * 14 * 2 * 2 * 2 * 64  # small, so tests stay fast; the real checkpoint's is 6144x this


def _tokenizer():
    """A word-level tokenizer with GLM's special tokens and a GLM-style chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS + SPECIAL)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
        additional_special_tokens=[s for s in SPECIAL if s != "<|endoftext|>"], chat_template=CHAT_TEMPLATE)


def _build_tiny_checkpoint(folder: Path) -> None:
    from transformers import Glm4vMoeConfig, Glm4vMoeForConditionalGeneration
    from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil

    tok = _tokenizer()
    ids = tok.convert_tokens_to_ids
    config = Glm4vMoeConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=16, intermediate_size=32, moe_intermediate_size=8,
            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
            n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, first_k_dense_replace=1,
            n_group=1, topk_group=1, max_position_embeddings=1024,
            rope_parameters={"rope_type": "default", "mrope_section": [1, 1], "partial_rotary_factor": 0.5,
                             "rope_theta": 10000.0},
            eos_token_id=[ids("<|endoftext|>"), ids("<|user|>"), ids("<|observation|>")],
            pad_token_id=ids("<|endoftext|>")),
        vision_config=dict(depth=2, hidden_size=32, out_hidden_size=16, intermediate_size=22, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, image_size=112),
        image_token_id=ids("<|image|>"), video_token_id=ids("<|video|>"),
        image_start_token_id=ids("<|begin_of_image|>"), image_end_token_id=ids("<|end_of_image|>"),
        video_start_token_id=ids("<|begin_of_video|>"), video_end_token_id=ids("<|end_of_video|>"))
    torch.manual_seed(0)
    model = Glm4vMoeForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    Glm4vImageProcessorPil(size={"shortest_edge": 112 * 112, "longest_edge": MAX_PIXELS}).save_pretrained(folder)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "GLM-4.5V-tiny"
    _build_tiny_checkpoint(folder)
    return folder


def _build_tiny_glm4v(folder: Path) -> None:
    """GLM-4.1V-9B-Thinking's class, ``Glm4vForConditionalGeneration``, tiny and random (dense, no experts)."""
    from transformers import Glm4vConfig, Glm4vForConditionalGeneration
    from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil

    tok = _tokenizer()
    ids = tok.convert_tokens_to_ids
    config = Glm4vConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=1024,
            rope_parameters={"rope_type": "default", "mrope_section": [1, 1], "partial_rotary_factor": 0.5,
                             "rope_theta": 10000.0},
            pad_token_id=ids("<|endoftext|>")),
        vision_config=dict(depth=2, hidden_size=32, out_hidden_size=16, intermediate_size=22, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, image_size=112),
        image_token_id=ids("<|image|>"), video_token_id=ids("<|video|>"),
        image_start_token_id=ids("<|begin_of_image|>"), image_end_token_id=ids("<|end_of_image|>"),
        video_start_token_id=ids("<|begin_of_video|>"), video_end_token_id=ids("<|end_of_video|>"))
    torch.manual_seed(1)
    Glm4vForConditionalGeneration(config).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    Glm4vImageProcessorPil(size={"shortest_edge": 112 * 112, "longest_edge": MAX_PIXELS}).save_pretrained(folder)


@pytest.fixture(scope="module")
def backend(ckpt) -> TransformersBackend:
    return TransformersBackend(str(ckpt), dtype="float32")  # device_map="auto" (the default) included


def _image(w: int, h: int, color=(200, 30, 30)) -> ImagePart:
    img = Image.new("RGB", (w, h), color)
    img.paste((20, 20, 220), (w // 4, h // 4, w // 2, h // 2))
    return ImagePart.from_image(img)


def _request(*images: ImagePart) -> list[Message]:
    user = (TextPart("what is on the screen"),) + tuple(images) + (TextPart("click the ok button"),)
    return [Message.text("system", "you are an agent"), Message("user", user)]


class _FirstForward:
    """Records the ``input_ids`` of the model's first forward call (the full prompt)."""

    def __init__(self, model) -> None:
        self.input_ids = None
        self._h = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        if self.input_ids is None:
            self.input_ids = kwargs.get("input_ids", args[0] if args else None).clone()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._h.remove()


def test_loads_from_disk_and_falls_back_without_torchvision(backend, ckpt):
    assert backend.name == "GLM-4.5V-tiny"
    assert type(backend.model).__name__ == "Glm4vMoeForConditionalGeneration"
    try:
        import torchvision  # noqa: F401
    except ImportError:
        assert isinstance(backend.processor, GlmFallbackProcessor)
        assert "torchvision" in (backend.processor_fallback_reason or "").lower()
        # the checkpoint's own image-processor settings were read
        assert backend.processor.image_processor.size["longest_edge"] == MAX_PIXELS
        assert backend.processor.image_processor.merge_size == 2


def test_generate_with_text_and_one_image(backend):
    cfg = backend.model.config
    with _FirstForward(backend.model) as seen:
        c = backend.generate(_request(_image(112, 84)), GenerationConfig(max_tokens=6, temperature=0.0))
    assert isinstance(c.text, str)
    assert c.model == "GLM-4.5V-tiny"
    assert c.latency_s > 0
    assert c.usage.prompt_tokens > 0 and 0 < c.usage.completion_tokens <= 6
    # 112x84 is already a multiple of 28: grid (1, 84/14, 112/14) = (1, 6, 8) -> 48 / 2**2 = 12 tokens
    assert c.raw["image_grid_thw"] == [[1, 6, 8]]
    ids = seen.input_ids[0]
    assert int((ids == cfg.image_token_id).sum()) == 1 * 6 * 8 // 4
    assert int((ids == cfg.image_start_token_id).sum()) == 1 == int((ids == cfg.image_end_token_id).sum())
    assert c.usage.prompt_tokens == ids.shape[0]


def test_image_tokens_match_the_grid_and_are_contiguous(backend):
    inputs = backend.prepare_inputs(_request(_image(112, 84)))
    thw = inputs["image_grid_thw"][0]
    n = int(thw.prod()) // backend.processor.image_processor.merge_size ** 2
    ids = inputs["input_ids"][0].tolist()
    cfg = backend.model.config
    start = ids.index(cfg.image_start_token_id)
    assert ids[start + 1:start + 1 + n] == [cfg.image_token_id] * n
    assert ids[start + 1 + n] == cfg.image_end_token_id
    assert inputs["mm_token_type_ids"][0].tolist() == [int(i == cfg.image_token_id) for i in ids]
    assert inputs["pixel_values"].shape[0] == int(thw.prod())


def test_two_images_in_one_request(backend):
    cfg = backend.model.config
    msgs = _request(_image(112, 84), _image(56, 56, (10, 200, 10)))
    with _FirstForward(backend.model) as seen:
        c = backend.generate(msgs, GenerationConfig(max_tokens=3))
    # 56x56 is below min_pixels (2*56*56 < 112*112) and is scaled up to 84x84: grid (1, 6, 6) -> 9 tokens
    assert c.raw["image_grid_thw"] == [[1, 6, 8], [1, 6, 6]]
    assert int((seen.input_ids[0] == cfg.image_token_id).sum()) == 12 + 9
    assert int((seen.input_ids[0] == cfg.image_start_token_id).sum()) == 2
    assert c.usage.completion_tokens > 0 and isinstance(c.text, str)


def test_thinking_switch_changes_the_prompt(backend):
    msgs = _request(_image(112, 84))
    on = backend.render_prompt(msgs, GenerationConfig(enable_thinking=True))
    off = backend.render_prompt(msgs, GenerationConfig(enable_thinking=False))
    assert "/nothink" not in on and "/nothink" in off
    assert off.endswith("<|assistant|><think></think>") and on.endswith("<|assistant|>")
    assert on.startswith("[gMASK]<sop><|system|>")
    assert on.count("<|begin_of_image|><|image|><|end_of_image|>") == 1
    nothink = backend.tokenizer.convert_tokens_to_ids("/nothink")
    assert nothink in backend.prepare_inputs(msgs, GenerationConfig(enable_thinking=False))["input_ids"][0].tolist()
    assert nothink not in backend.prepare_inputs(msgs, GenerationConfig(enable_thinking=True))["input_ids"][0].tolist()


class _ScriptedGenerate:
    """Stands in for the model: appends fixed token ids to the prompt, records generate kwargs."""

    def __init__(self, real, new_ids: list[int]) -> None:
        self.config, self.generation_config, self.device = real.config, real.generation_config, real.device
        self.new_ids = new_ids
        self.kwargs: dict = {}

    def generate(self, input_ids, **kwargs):
        self.kwargs = kwargs
        return torch.cat([input_ids, torch.tensor([self.new_ids], dtype=input_ids.dtype)], dim=1)


def test_decodes_only_new_tokens_keeps_box_tokens_strips_stop_tokens(backend):
    t = backend.tokenizer.convert_tokens_to_ids
    new = [t("<think>"), t("</think>"), t("<|begin_of_box|>"), t("click"), t("["), t("1"), t(","), t("2"), t("]"),
           t("<|end_of_box|>"), t("<|user|>"), t("<|endoftext|>")]
    fake = _ScriptedGenerate(backend.model, new)
    b = TransformersBackend("unused", processor=backend.processor, model=fake, name="injected")
    c = b.generate(_request(_image(112, 84)), GenerationConfig(max_tokens=50, temperature=0.001))
    assert c.model == "injected"
    assert "<|begin_of_box|>" in c.text and "<|end_of_box|>" in c.text and "click" in c.text
    assert "<|user|>" not in c.text and "<|endoftext|>" not in c.text
    assert "what" not in c.text  # nothing of the prompt
    assert c.usage.completion_tokens == len(new) and c.raw["stopped"] is True
    assert fake.kwargs["max_new_tokens"] == 50 and fake.kwargs["do_sample"] is False
    assert "mm_token_type_ids" in fake.kwargs and "pixel_values" in fake.kwargs

    b.generate(_request(_image(112, 84)), GenerationConfig(max_tokens=5, temperature=0.7))
    assert fake.kwargs["do_sample"] is True and fake.kwargs["temperature"] == 0.7


def test_missing_path_is_a_clear_model_error(tmp_path):
    missing = tmp_path / "no-such-GLM-4.5V"
    with pytest.raises(ModelError) as e:
        TransformersBackend(str(missing))
    assert str(missing) in str(e.value) and "never downloads" in str(e.value)

    with pytest.raises(ModelError, match="no config.json"):
        TransformersBackend(str(tmp_path))
    with pytest.raises(ValueError, match="dtype"):
        TransformersBackend(str(tmp_path), dtype="int3")


def test_without_torch_import_works_and_construction_says_how_to_install(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import model.transformers_backend as tb\n"
        "from model.base import ModelError\n"
        "try:\n"
        f"    tb.TransformersBackend({str(tmp_path)!r})\n"
        "except ModelError as e:\n"
        "    print('MODELERROR', e)\n"
    )
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(root)})
    assert r.returncode == 0, r.stderr
    assert "MODELERROR" in r.stdout and "pip install torch==2.13.0 first" in r.stdout, r.stdout


def test_tiny_glm4v_runs_the_glm41v_prompt_through_the_backend(tmp_path):
    """GLM-4.1V-9B-Thinking's architecture through the same loading path, fed what the GLM-4.1V family
    builds: the current screenshot first at full size, an earlier one at half size, then the text."""
    from actions.coords import ImageMap, Rect
    from model.families import get_family
    from model.family import HistoryEntry, ParseError

    folder = tmp_path / "GLM-4.1V-tiny"
    _build_tiny_glm4v(folder)
    b = TransformersBackend(str(folder), dtype="float32")
    assert type(b.model).__name__ == "Glm4vForConditionalGeneration"
    family = get_family("glm-4.1v-9b-thinking")
    earlier = HistoryEntry("click the ok button", "left_click(start_box='[1,2]')", _image(224, 168))
    msgs = family.build_messages("click the ok button", _image(112, 84), [earlier])
    cfg = b.model.config
    with _FirstForward(b.model) as seen:
        c = b.generate(msgs, GenerationConfig(max_tokens=6, temperature=0.0))
    # current 112x84 -> grid (1, 6, 8); the earlier 224x168 halved to 112x84 -> (1, 6, 8) too
    assert c.raw["image_grid_thw"] == [[1, 6, 8], [1, 6, 8]]
    ids = seen.input_ids[0].tolist()
    assert ids.count(cfg.image_token_id) == 2 * 12
    user = ids.index(b.tokenizer.convert_tokens_to_ids("<|user|>"))
    assert ids[user + 1] == cfg.image_start_token_id  # the images come before the prompt text
    assert 0 < c.usage.completion_tokens <= 6
    try:  # random weights: whatever came out is a step or a ParseError for the model, nothing else
        family.parse(c, ImageMap(Rect(0, 0, 112, 84), 112, 84))
    except ParseError as e:
        assert e.internal is None
