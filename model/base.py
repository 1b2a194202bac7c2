"""The one model interface: ``generate(messages) -> Completion``.

Every backend (an OpenAI-compatible HTTP server such as vLLM or SGLang serving GLM-4.5V, local
transformers, a scripted list of answers for tests and demos) implements just this, so the agent
loop, the grounders and the tests never care which one is behind it (the smolagents idea: one
``Model.generate``, fake models in tests).

Messages carry text and images. Images travel encoded (PNG or JPEG bytes) because that is what
goes over HTTP; a local backend decodes them with ``ImagePart.to_pil``.

Errors a *person* must fix (server unreachable or too slow, server failing with HTTP 5xx, wrong model
name, bad key) are typed exceptions with a clear message; what the *model* got wrong (unparseable
output) is handled by the parsers, as data.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union

from PIL import Image


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An encoded image (``data`` bytes of ``mime`` type) and its pixel size.

    ``memo`` holds copies derived from it (``model.family.half_size``: a history screenshot is shrunk
    once, not on every later step); it takes no part in comparisons."""

    data: bytes
    mime: str
    width: int
    height: int
    memo: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_image(cls, img: Image.Image, fmt: str = "png", quality: int = 85) -> "ImagePart":
        f = fmt.lower()
        if f in ("jpg", "jpeg"):
            buf = io.BytesIO()
            img.convert("RGB").save(buf, "JPEG", quality=quality)
            return cls(buf.getvalue(), "image/jpeg", img.width, img.height)
        if f == "png":
            return cls(png_bytes(img), "image/png", img.width, img.height)
        raise ValueError(f"unsupported image format {fmt!r}: use 'png' or 'jpeg'")

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def to_pil(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data)).convert("RGB")

    def __repr__(self) -> str:  # never dump megabytes into a log
        return f"ImagePart({self.mime}, {self.width}x{self.height}, {len(self.data)} bytes)"


Part = Union[TextPart, ImagePart]

_CV_ORDER = {"RGB": "COLOR_RGB2BGR", "RGBA": "COLOR_RGBA2BGRA", "L": None}


def png_bytes(img: Image.Image) -> bytes:
    """``img`` as a PNG, fast: zlib level 1 and no row filters (OpenCV's encoder).

    Choosing a filter per row, as Pillow's encoder always does, is most of the cost of a PNG and buys
    little on screenshots (flat colours, text): a 1280x800 page encodes ~3x faster and ~10 % smaller
    without filters (measured with ``bench/loop_overhead.py``'s page). Lossless either way; images of
    other modes, or an OpenCV without the filter option, go through Pillow."""
    cv2 = _cv2()
    if cv2 is not None and img.mode in _CV_ORDER:
        import numpy as np

        arr = np.asarray(img)
        order = _CV_ORDER[img.mode]
        ok, out = cv2.imencode(".png", arr if order is None else cv2.cvtColor(arr, getattr(cv2, order)),
                               [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE])
        if ok:
            return out.tobytes()
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _cv2():  # noqa: ANN202 - the module, or None
    try:
        import cv2
    except ImportError:
        return None
    return cv2 if hasattr(cv2, "IMWRITE_PNG_FILTER") else None


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: tuple[Part, ...]

    @classmethod
    def text(cls, role: Literal["system", "user", "assistant"], text: str) -> "Message":
        return cls(role, (TextPart(text),))

    def images(self) -> list[ImagePart]:
        return [p for p in self.content if isinstance(p, ImagePart)]


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


@dataclass(frozen=True)
class Completion:
    """What a model answered. ``reasoning`` holds thinking a server split off (vLLM's
    ``reasoning_content`` with ``--reasoning-parser glm45``); otherwise it stays inside ``text``."""

    text: str
    model: str
    latency_s: float
    usage: Usage = field(default_factory=Usage)
    reasoning: str | None = None
    raw: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class GenerationConfig:
    """How to generate one answer. ``max_tokens`` 8192 is what zai-org/GLM-V's GUI-agent example
    (``examples/gui-agent/glm-45v/gui_agent_45v.py``) asks for: thinking mode spends thousands of
    tokens before the action, and a budget cut mid-thought leaves no action at all. ``timeout``
    bounds this one call, retries included (the agent loop sets it to the run's time left);
    None leaves each backend's own per-request timeout."""

    max_tokens: int = 8192
    temperature: float = 0.001  # GLM-V's own GUI-agent example uses 0.001
    enable_thinking: bool = True
    timeout: float | None = None


class Model(Protocol):
    name: str

    def generate(self, messages: Sequence[Message], config: GenerationConfig | None = None) -> Completion: ...


class ModelError(Exception):
    """A model backend cannot answer; the message says what a person should do."""


class ModelUnreachable(ModelError):
    """No answer came back: connection refused, unknown host, or no answer in time."""


class ModelTimeout(ModelUnreachable):
    """The server took the request but did not answer within the timeout. ``timeout`` is the limit
    that was hit (seconds)."""

    def __init__(self, message: str, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


class ModelServerError(ModelError):
    """The server answered, with a failure of its own (HTTP 5xx) on every attempt."""


class ModelNotFound(ModelError):
    pass


class ModelAuthError(ModelError):
    pass


class ModelResponseError(ModelError):
    """The server answered, but not with a usable completion (HTTP 4xx, malformed JSON)."""


class ScriptedModel:
    """Plays back a list of answers, one per call (tests and demos). Each answer is a string or a
    ``Completion``. Records the messages it was given in ``calls``."""

    def __init__(self, answers: Sequence[str | Completion], name: str = "scripted") -> None:
        self.name = name
        self._answers = list(answers)
        self.calls: list[tuple[Message, ...]] = []

    def generate(self, messages: Sequence[Message], config: GenerationConfig | None = None) -> Completion:
        t = time.monotonic()
        self.calls.append(tuple(messages))
        if len(self.calls) > len(self._answers):
            raise ModelResponseError(f"scripted model has only {len(self._answers)} answers")
        a = self._answers[len(self.calls) - 1]
        if isinstance(a, Completion):
            return a
        return Completion(text=a, model=self.name, latency_s=time.monotonic() - t,
                          usage=Usage(None, len(a.split())))
