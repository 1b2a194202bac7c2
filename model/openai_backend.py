"""OpenAI-compatible HTTP backend: vLLM or SGLang serving GLM-4.5V on your GPUs, or a hosted endpoint.

This is how desk-agent scales past one machine: the model runs tensor-parallel on a GPU server
(``agent serve`` prints the command) and any number of agents talk to it over HTTP.

Plain ``urllib`` on purpose: the few things that matter here — per-request timeouts that also fit
the run's time left, bounded retries with backoff on connection errors and 5xx only, and a typed
error that says what happened (unreachable, too slow, failing with HTTP 5xx, wrong model name, bad
key) — are easier to get exactly right without a client library.

GLM-4.5V specifics (zai-org/GLM-V README and ``examples/gui-agent/glm-45v/gui_agent_45v.py``):
images go as base64 data URIs; ``skip_special_tokens: false`` keeps ``<|begin_of_box|>`` in the
answer; thinking is toggled with ``chat_template_kwargs.enable_thinking``; with vLLM's
``--reasoning-parser glm45`` the thinking arrives separately as ``reasoning_content``.
"""

from __future__ import annotations

import json
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from model.base import (
    Completion,
    GenerationConfig,
    ImagePart,
    Message,
    ModelAuthError,
    ModelNotFound,
    ModelResponseError,
    ModelServerError,
    ModelTimeout,
    ModelUnreachable,
    TextPart,
    Usage,
)

SERVE_HINT = ("start one with `agent serve --launch` (vLLM or SGLang on your GPUs) or point "
              "--model-url / AGENT_MODEL_URL at a running OpenAI-compatible endpoint")


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if all(isinstance(p, TextPart) for p in m.content):
            out.append({"role": m.role, "content": "".join(p.text for p in m.content)})  # type: ignore[union-attr]
            continue
        parts: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, ImagePart):
                parts.append({"type": "image_url", "image_url": {"url": p.data_uri()}})
            else:
                parts.append({"type": "text", "text": p.text})
        out.append({"role": m.role, "content": parts})
    return out


class OpenAIBackend:
    """``generate`` over ``POST {base_url}/chat/completions``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        server_extras: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"model URL must start with http:// or https://, got {base_url!r}")
        self.name = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        #: vLLM/SGLang-only request fields (skip_special_tokens, chat_template_kwargs); hosted APIs may reject them.
        self.server_extras = server_extras

    # HTTP ------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None = None, *, budget: float | None = None) -> dict:
        """One API call. Connection errors and HTTP 5xx are retried (bounded, with backoff); a timeout
        is not (the same request would take as long again). ``budget`` bounds the whole call,
        retries included; each attempt also stops at ``self.timeout``."""
        url = f"{self.base_url}{path}"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        deadline = None if budget is None else time.monotonic() + budget
        last: tuple[str, str] | None = None  # (kind, text) of the last failed attempt
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = self.backoff * 2 ** (attempt - 1) * (1 + random.random() * 0.25)
                if deadline is not None and time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
            limit = self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
            if limit <= 0:
                break
            attempts += 1
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=limit) as resp:
                    payload = resp.read()
            except urllib.error.HTTPError as e:
                detail = _error_text(e)
                if e.code >= 500:
                    last = ("server", f"HTTP {e.code}: {detail}")
                    continue
                raise self._client_error(e.code, detail) from None
            except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, (socket.timeout, TimeoutError)):
                    raise self._timeout(limit, connecting=isinstance(e, urllib.error.URLError)) from None
                last = ("unreachable", f"{type(reason).__name__}: {reason}")
                continue
            try:
                return json.loads(payload)
            except json.JSONDecodeError:
                raise ModelResponseError(f"{url} answered with something that is not JSON: {payload[:200]!r}") from None
        if last is None:  # the budget ran out before an attempt could be made
            raise ModelTimeout(f"no time was left to ask the model server at {self.base_url}", budget or 0.0)
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if last[0] == "server":
            raise ModelServerError(f"the model server failed: {last[1]} ({self.base_url}, {tries}); "
                                   "its log says more")
        raise ModelUnreachable(f"cannot reach the model server at {self.base_url} after {tries} "
                               f"({last[1]}); {SERVE_HINT}")

    def _timeout(self, limit: float, *, connecting: bool) -> ModelTimeout:
        hint = ("set a longer one with --model-timeout / AGENT_MODEL_TIMEOUT (config key timeout), or ask "
                "for a shorter answer (--max-tokens)")
        if connecting:
            return ModelTimeout(f"cannot reach the model server at {self.base_url}: no connection within "
                                f"{limit:g} s; {SERVE_HINT}", limit)
        return ModelTimeout(f"the model server at {self.base_url} did not answer within {limit:g} s; {hint}", limit)

    def _client_error(self, code: int, detail: str) -> Exception:
        if code in (401, 403):
            return ModelAuthError(f"the model server at {self.base_url} refused the API key (HTTP {code}: {detail}); "
                                  "set --api-key or AGENT_API_KEY")
        low = detail.lower()
        if code == 404 and ("model" in low or "not found" in low or "does not exist" in low):
            return ModelNotFound(f"the server at {self.base_url} does not serve model {self.name!r} ({detail}); "
                                 f"`agent doctor` lists the models it serves; set --model / AGENT_MODEL")
        if code == 404:
            return ModelNotFound(f"{self.base_url} has no OpenAI-compatible API (HTTP 404 for {detail or 'the path'}); "
                                 "the URL usually ends in /v1")
        return ModelResponseError(f"the model server rejected the request (HTTP {code}): {detail}")

    # interface -------------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        data = self._request("GET", "/models")
        return [m.get("id", "") for m in data.get("data", []) if isinstance(m, dict)]

    def check(self) -> str:
        """Raise a typed error unless the server is up and serves ``self.name``; returns a summary."""
        served = self.list_models()
        if served and self.name not in served:
            raise ModelNotFound(f"the server at {self.base_url} serves {', '.join(served)}, not {self.name!r}; "
                                "set --model / AGENT_MODEL")
        return f"{self.base_url} serves {', '.join(served) or '(no list)'}"

    def generate(self, messages: Sequence[Message], config: GenerationConfig | None = None) -> Completion:
        cfg = config or GenerationConfig()
        body: dict[str, Any] = {
            "model": self.name,
            "messages": to_openai_messages(messages),
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
        }
        if self.server_extras:
            body["skip_special_tokens"] = False
            body["chat_template_kwargs"] = {"enable_thinking": cfg.enable_thinking}
        t = time.monotonic()
        data = self._request("POST", "/chat/completions", body, budget=cfg.timeout)
        latency = time.monotonic() - t
        try:
            msg = data["choices"][0]["message"]
            text = msg.get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ModelResponseError(f"the model server answered without choices[0].message: {str(data)[:300]}") from None
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        u = data.get("usage") or {}
        return Completion(text=text, model=data.get("model", self.name), latency_s=latency,
                          usage=Usage(u.get("prompt_tokens"), u.get("completion_tokens")),
                          reasoning=reasoning, raw={k: v for k, v in data.items() if k != "choices"})


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        body = e.read().decode("utf-8", "replace")
    except Exception:
        return e.reason or ""
    try:
        j = json.loads(body)
        err = j.get("error", j) if isinstance(j, dict) else j
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:500]
        return str(err)[:500]
    except json.JSONDecodeError:
        return body[:500]
