"""A local OpenAI-compatible HTTP server on 127.0.0.1 standing in for vLLM serving GLM-4.5V.

It answers ``/v1/chat/completions`` from a script (a list of answers or a function of the request,
and optionally the separate ``reasoning_content`` a reasoning parser splits off),
serves ``/v1/models``, records every request, and can fail on purpose (5xx bursts, 401, hangs).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAI:
    def __init__(self, answers: list[str] | Callable[[dict], str] | None = None, *, model: str = "glm-4.5v",
                 api_key: str | None = None, fail_first: int = 0, fail_status: int = 503,
                 fail_message: str = "overloaded", reasoning: str | list[str | None] | None = None, delay: float = 0.0,
                 chat_error: tuple[int, str] | None = None) -> None:
        self.answers = answers if answers is not None else []
        self.model = model
        self.api_key = api_key
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.fail_message = fail_message
        self.reasoning = reasoning
        self.delay = delay
        self.chat_error = chat_error  # (HTTP status, message): every chat completion fails with it
        self.requests: list[dict[str, Any]] = []
        self.hits = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _calls(self) -> int:
        return len([r for r in self.requests if r.get("path", "").endswith("/chat/completions")])

    def _answer(self, body: dict) -> str:
        if callable(self.answers):
            return self.answers(body)
        return self.answers[min(self._calls() - 1, len(self.answers) - 1)]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, obj: dict) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _gate(self) -> bool:
                fake.hits += 1
                if fake.hits <= fake.fail_first:
                    self._send(fake.fail_status, {"error": {"message": fake.fail_message}})
                    return False
                if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(401, {"error": {"message": "Invalid API key"}})
                    return False
                return True

            def do_GET(self):
                if not self._gate():
                    return
                if self.path.endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                fake.requests.append({"path": self.path, "body": body})
                if not self._gate():
                    return
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if fake.chat_error is not None:
                    self._send(fake.chat_error[0], {"error": {"message": fake.chat_error[1]}})
                    return
                if body.get("model") != fake.model:
                    self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                text = fake._answer(body)
                msg = {"role": "assistant", "content": text}
                reasoning = fake.reasoning
                if isinstance(reasoning, list):  # one per answer, like ``answers``
                    reasoning = reasoning[min(fake._calls() - 1, len(reasoning) - 1)]
                if reasoning is not None:
                    msg["reasoning_content"] = reasoning
                self._send(200, {"id": "x", "object": "chat.completion", "model": fake.model,
                                 "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 1000, "completion_tokens": len(text.split())}})

        return Handler
