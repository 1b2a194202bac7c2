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
    """An encoded image (``data`` bytes of ``mime`` type) and its pixel size."""

    data: bytes
    mime: str
    width: int
    height: int

    @classmethod
    def from_image(cls, img: Image.Image, fmt: str = "png", quality: int = 85) -> "ImagePart":
        buf = io.BytesIO()
        f = fmt.lower()
        if f in ("jpg", "jpeg"):
            img.convert("RGB").save(buf, "JPEG", quality=quality)
            mime = "image/jpeg"
        elif f == "png":
            img.save(buf, "PNG", compress_level=1)
            mime = "image/png"
        else:
            raise ValueError(f"unsupported image format {fmt!r}: use 'png' or 'jpeg'")
        return cls(buf.getvalue(), mime, img.width, img.height)

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def to_pil(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data)).convert("RGB")

    def __repr__(self) -> str:  # never dump megabytes into a log
        return f"ImagePart({self.mime}, {self.width}x{self.height}, {len(self.data)} bytes)"


Part = Union[TextPart, ImagePart]


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
