"""Local transformers backend: GLM-4.5V from a folder on this machine.

For when you have the weights (your own download of ``zai-org/GLM-4.5V`` or ``zai-org/GLM-4.5V-FP8``)
and the GPUs to hold them, and don't want to run a vLLM/SGLang server. The model is loaded with
``AutoModelForImageTextToText`` (``Glm4vMoeForConditionalGeneration``) and its ``AutoProcessor``,
``device_map="auto"`` spreading the layers over the visible GPUs. Nothing is ever downloaded: loading
uses ``local_files_only=True``, and a path that isn't a checkpoint folder is a :class:`ModelError`.

torch and transformers are imported lazily, so ``import model.transformers_backend`` works without
them; constructing a backend then says how to install them.

Processor fallback: transformers' ``Glm4vProcessor`` cannot be built without torchvision (its video
processor needs it), and there is no CPU torchvision for some machines. Then :class:`GlmFallbackProcessor`
does the part of ``Glm4vProcessor`` this backend needs, from the checkpoint's own tokenizer, chat
template and ``preprocessor_config.json`` (read by the torchvision-free ``Glm4vImageProcessorPil``):
render the chat template, expand each ``<|image|>`` to ``grid_t*grid_h*grid_w / merge_size**2``
copies, tokenize, and add ``mm_token_type_ids`` (1 on image tokens), which the model needs for its
3-D (M-RoPE) positions. Images only; no video.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from model.base import (
    Completion,
    GenerationConfig,
    ImagePart,
    Message,
    ModelError,
    ModelNotFound,
    TextPart,
    Usage,
)

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install torch==2.13.0 first, then pip install -e '.[local]'"

_DTYPES = ("auto", "bfloat16", "float16", "float32")

# End-of-turn tokens of GLM-4.5V's generation_config (eos_token_id = <|endoftext|>, <|user|>,
# <|observation|>); merged with whatever the checkpoint itself declares.
_STOP_TOKENS = ("<|endoftext|>", "<|user|>", "<|observation|>")


def _import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ModelError(f"the local transformers backend needs torch and transformers ({e}): {INSTALL_HINT}") from e
    return torch, transformers


def to_chat_messages(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[ImagePart]]:
    """Our messages in the chat-template format, plus the images in the order they appear.

    Text-only messages get a plain string ``content``; messages with images a list of
    ``{"type": "image"}`` / ``{"type": "text", "text": ...}`` items (what GLM's template expects)."""
    conv: list[dict[str, Any]] = []
    images: list[ImagePart] = []
    for m in messages:
        if all(isinstance(p, TextPart) for p in m.content):
            conv.append({"role": m.role, "content": "".join(p.text for p in m.content)})  # type: ignore[union-attr]
            continue
        items: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, ImagePart):
                items.append({"type": "image"})
                images.append(p)
            else:
                items.append({"type": "text", "text": p.text})
        conv.append({"role": m.role, "content": items})
    return conv, images


class GlmFallbackProcessor:
    """What ``Glm4vProcessor`` does for images, without torchvision.

    ``apply_chat_template(conversation, **template_kwargs) -> str`` renders the chat template;
    ``__call__(text=, images=, return_tensors="pt")`` expands ``<|image|>`` per image, tokenizes and
    returns ``input_ids``, ``attention_mask``, ``pixel_values``, ``image_grid_thw`` and
    ``mm_token_type_ids`` as a ``BatchFeature``."""

    def __init__(self, tokenizer: Any, image_processor: Any, chat_template: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.chat_template = chat_template or getattr(tokenizer, "chat_template", None)
        if not self.chat_template:
            raise ModelError("the checkpoint has no chat template (chat_template.jinja or the tokenizer's)")
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise ModelError(f"the checkpoint's tokenizer has no {self.image_token} token")

    @classmethod
    def from_pretrained(cls, path: str, *, local_files_only: bool = True) -> "GlmFallbackProcessor":
        from transformers import AutoTokenizer
        from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_files_only)
        image_processor = Glm4vImageProcessorPil.from_pretrained(path, local_files_only=local_files_only)
        template = getattr(tokenizer, "chat_template", None)
        jinja = os.path.join(path, "chat_template.jinja")
        if not template and os.path.isfile(jinja):
            with open(jinja, encoding="utf-8") as f:
                template = f.read()
        return cls(tokenizer, image_processor, template)

    def apply_chat_template(self, conversation: list[dict[str, Any]], *, add_generation_prompt: bool = True,
                            tokenize: bool = False, **template_kwargs: Any) -> str:
        if tokenize:
            raise NotImplementedError("render with tokenize=False, then call the processor")
        return self.tokenizer.apply_chat_template(conversation, chat_template=self.chat_template, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt, **template_kwargs)

    def __call__(self, text: str | list[str], images: list[Any] | None = None, return_tensors: str = "pt",
                 **_: Any) -> Any:
        from transformers import BatchFeature

        texts = [text] if isinstance(text, str) else list(text)
        if len(texts) != 1:
            raise NotImplementedError("the fallback processor takes one prompt at a time")
        prompt = texts[0]
        images = list(images or [])
        data: dict[str, Any] = {}
        pieces = prompt.split(self.image_token)
        if len(pieces) - 1 != len(images):
            raise ModelError(f"the prompt has {len(pieces) - 1} {self.image_token} placeholders "
                             f"but {len(images)} images were given")
        if images:
            img = self.image_processor(images=images, return_tensors="pt")
            data.update(img)
            merge = self.image_processor.merge_size ** 2
            counts = [int(thw.prod()) // merge for thw in img["image_grid_thw"]]
            prompt = pieces[0] + "".join(self.image_token * n + rest for n, rest in zip(counts, pieces[1:]))
        # GLM's template already writes [gMASK]<sop>: add no special tokens of our own.
        enc = self.tokenizer([prompt], add_special_tokens=False, return_tensors="pt")
        data["input_ids"] = enc["input_ids"]
        data["attention_mask"] = enc["attention_mask"]
        data["mm_token_type_ids"] = (enc["input_ids"] == self.image_token_id).long()
        return BatchFeature(data=data, tensor_type=return_tensors)

    def decode(self, ids: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(ids, **kwargs)


class TransformersBackend:
    """GLM-4.5V from a local path (a user's own download) through transformers:
    ``Glm4vMoeForConditionalGeneration`` via ``AutoModelForImageTextToText`` with its ``AutoProcessor``
    (or :class:`GlmFallbackProcessor` where that can't be built); bf16 or the FP8 checkpoint (its
    ``quantization_config`` is applied by transformers); ``device_map="auto"``.

    ``processor`` / ``model`` take already-built objects (tests); with both given, ``path`` is not read."""

    def __init__(
        self,
        path: str,
        *,
        name: str | None = None,
        dtype: str = "auto",
        device_map: str | dict | None = "auto",
        processor: Any = None,
        model: Any = None,
        local_files_only: bool = True,
    ) -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        self.path = os.path.expanduser(str(path))
        self.name = name or os.path.basename(os.path.normpath(self.path)) or "glm-4.5v"
        torch, transformers = _import_torch_transformers()
        self._torch = torch
        self.processor_fallback_reason: str | None = None  # why AutoProcessor wasn't used, if it wasn't
        if processor is None or model is None:
            self._check_checkpoint()
        self.processor = processor if processor is not None else self._load_processor(local_files_only)
        self.model = model if model is not None else self._load_model(dtype, device_map, local_files_only)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self._stop_ids, self._pad_ids = self._special_ids()

    # ---- loading ----------------------------------------------------------------------------------

    def _check_checkpoint(self) -> None:
        p = self.path
        if not os.path.isdir(p):
            raise ModelNotFound(
                f"no GLM-4.5V checkpoint folder at {p!r}: the local backend only loads weights you have "
                "downloaded yourself (e.g. `hf download zai-org/GLM-4.5V --local-dir DIR`), it never "
                "downloads them; or use a vLLM/SGLang server with --model-url")
        if not os.path.isfile(os.path.join(p, "config.json")):
            raise ModelNotFound(f"{p!r} is not a transformers checkpoint folder (no config.json in it)")

    def _load_processor(self, local_files_only: bool) -> Any:
        from transformers import AutoProcessor

        try:
            return AutoProcessor.from_pretrained(self.path, local_files_only=local_files_only)
        except Exception as e:  # noqa: BLE001 - typically ImportError: Glm4vVideoProcessor needs torchvision
            log.info("AutoProcessor unavailable (%s: %s); using GlmFallbackProcessor", type(e).__name__,
                     str(e).strip().splitlines()[0] if str(e).strip() else "")
            self.processor_fallback_reason = f"{type(e).__name__}: {e}".strip()
        try:
            return GlmFallbackProcessor.from_pretrained(self.path, local_files_only=local_files_only)
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"cannot load the tokenizer / image processor from {self.path!r}: "
                             f"{type(e).__name__}: {e}") from e

    def _load_model(self, dtype: str, device_map: Any, local_files_only: bool) -> Any:
        torch = self._torch
        from transformers import AutoModelForImageTextToText

        if device_map is not None:
            try:
                import accelerate  # noqa: F401
            except ImportError:
                if torch.cuda.is_available():
                    raise ModelError("device_map needs accelerate to spread GLM-4.5V over the GPUs: "
                                     "pip install accelerate") from None
                log.info("accelerate is not installed and there is no GPU: loading on the CPU")
                device_map = None
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        try:
            m = AutoModelForImageTextToText.from_pretrained(
                self.path, dtype=torch_dtype, device_map=device_map, local_files_only=local_files_only)
        except (OSError, ValueError, ImportError, KeyError) as e:
            raise ModelError(f"cannot load GLM-4.5V from {self.path!r}: {type(e).__name__}: {e} "
                             "(GLM-4.5V needs transformers>=4.56; FP8 checkpoints need a GPU)") from e
        return m.eval()

    def _special_ids(self) -> tuple[set[int], set[int]]:
        tok = self.tokenizer
        stop: set[int] = set()
        gen_cfg = getattr(self.model, "generation_config", None)
        eos = getattr(gen_cfg, "eos_token_id", None)
        stop.update(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
        if getattr(tok, "eos_token_id", None) is not None:
            stop.add(tok.eos_token_id)
        unk = getattr(tok, "unk_token_id", None)
        for t in _STOP_TOKENS:
            i = tok.convert_tokens_to_ids(t)
            if isinstance(i, int) and i != unk:
                stop.add(i)
        pad: set[int] = set()
        for i in (getattr(tok, "pad_token_id", None), getattr(gen_cfg, "pad_token_id", None)):
            if i is not None:
                pad.add(i)
        return stop, pad

    # ---- generation -------------------------------------------------------------------------------

    def render_prompt(self, messages: Sequence[Message], config: GenerationConfig | None = None) -> str:
        """The chat-template text before image expansion (one ``<|image|>`` per image)."""
        cfg = config or GenerationConfig()
        conv, _ = to_chat_messages(messages)
        return self.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False,
                                                  enable_thinking=cfg.enable_thinking)

    def prepare_inputs(self, messages: Sequence[Message], config: GenerationConfig | None = None) -> Any:
        """The processed model inputs (``input_ids`` with expanded image tokens, ``pixel_values``,
        ``image_grid_thw``, ``mm_token_type_ids``, ``attention_mask``) on the model's device."""
        prompt = self.render_prompt(messages, config)
        _, parts = to_chat_messages(messages)
        images = [p.to_pil() for p in parts]
        inputs = self.processor(text=[prompt], images=images or None, return_tensors="pt")
        inputs.pop("token_type_ids", None)  # the real Glm4vProcessor may add it; the model doesn't take it
        return inputs.to(self.model.device)

    def generate(self, messages: Sequence[Message], config: GenerationConfig | None = None) -> Completion:
        cfg = config or GenerationConfig()
        torch = self._torch
        t0 = time.monotonic()
        inputs = self.prepare_inputs(messages, cfg)
        n_in = int(inputs["input_ids"].shape[1])
        do_sample = cfg.temperature > 0.01
        gen_kwargs: dict[str, Any] = {"max_new_tokens": cfg.max_tokens, "do_sample": do_sample}
        if do_sample:
            gen_kwargs["temperature"] = cfg.temperature
        if self._pad_ids:
            gen_kwargs["pad_token_id"] = min(self._pad_ids)
        try:
            with torch.inference_mode():
                out = self.model.generate(**inputs, **gen_kwargs)
        except torch.cuda.OutOfMemoryError as e:  # type: ignore[attr-defined]
            raise ModelError(f"out of GPU memory generating with {self.name}: {e}") from e
        new = out[0, n_in:].tolist()
        n_new = len(new)
        stopped = False
        for k, i in enumerate(new):  # generate stops at the first stop token; cut it and anything after
            if i in self._stop_ids:
                new, stopped = new[:k], True
                break
        new = [i for i in new if i not in self._pad_ids]
        text = self.tokenizer.decode(new, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        grid = inputs.get("image_grid_thw")
        return Completion(
            text=text,
            model=self.name,
            latency_s=time.monotonic() - t0,
            usage=Usage(prompt_tokens=n_in, completion_tokens=n_new),
            raw={"image_grid_thw": grid.tolist() if grid is not None else None, "stopped": stopped},
        )
