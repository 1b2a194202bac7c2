"""The OpenAI-compatible backend against a local HTTP server on 127.0.0.1."""

import socket

import pytest
from PIL import Image

import time

from model.base import (GenerationConfig, ImagePart, Message, ModelAuthError, ModelNotFound,
                        ModelResponseError, ModelServerError, ModelTimeout, ModelUnreachable, TextPart)
from model.openai_backend import OpenAIBackend
from tests.fake_openai import FakeOpenAI


def user_turn():
    img = ImagePart.from_image(Image.new("RGB", (64, 40), "red"))
    return [Message.text("system", "be brief"), Message("user", (TextPart("what is this?"), img))]


def test_generate_sends_images_and_glm_extras():
    with FakeOpenAI(["left_click(start_box='[10,20]')"], reasoning="I think") as srv:
        m = OpenAIBackend(srv.url, "glm-4.5v")
        c = m.generate(user_turn(), GenerationConfig(enable_thinking=False))
    assert c.text == "left_click(start_box='[10,20]')" and c.reasoning == "I think"
    assert c.usage.prompt_tokens == 1000 and c.latency_s >= 0
    body = srv.requests[0]["body"]
    assert body["skip_special_tokens"] is False
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    parts = body["messages"][1]["content"]
    assert parts[0] == {"type": "text", "text": "what is this?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert body["messages"][0] == {"role": "system", "content": "be brief"}


def test_retries_5xx_then_succeeds():
    with FakeOpenAI(["DONE()"], fail_first=2) as srv:
        c = OpenAIBackend(srv.url, "glm-4.5v", retries=3, backoff=0.01).generate(user_turn())
    assert c.text == "DONE()" and srv.hits == 3


def test_gives_up_after_bounded_retries():
    with FakeOpenAI(["DONE()"], fail_first=10) as srv:
        with pytest.raises(ModelServerError) as e:
            OpenAIBackend(srv.url, "glm-4.5v", retries=2, backoff=0.01).generate(user_turn())
    assert srv.hits == 3 and "HTTP 503" in str(e.value)


def test_http_500_is_a_server_failure_with_its_message():
    with FakeOpenAI(["DONE()"], fail_first=10, fail_status=500, fail_message="CUDA out of memory") as srv:
        with pytest.raises(ModelServerError) as e:
            OpenAIBackend(srv.url, "glm-4.5v", retries=1, backoff=0.01).generate(user_turn())
    assert str(e.value).startswith("the model server failed: HTTP 500: CUDA out of memory")
    assert not isinstance(e.value, ModelUnreachable) and "cannot reach" not in str(e.value)


def test_unreachable_server_is_clear():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(ModelUnreachable) as e:
        OpenAIBackend(f"http://127.0.0.1:{port}/v1", "glm-4.5v", retries=1, backoff=0.01).generate(user_turn())
    assert f"127.0.0.1:{port}" in str(e.value) and "agent serve" in str(e.value)


def test_wrong_model_name_and_bad_key():
    with FakeOpenAI(["DONE()"]) as srv:
        with pytest.raises(ModelNotFound) as e:
            OpenAIBackend(srv.url, "glm-4.6v").generate(user_turn())
        assert "glm-4.6v" in str(e.value)
        with pytest.raises(ModelNotFound):
            OpenAIBackend(srv.url, "glm-4.6v").check()
        assert "glm-4.5v" in OpenAIBackend(srv.url, "glm-4.5v").check()
    with FakeOpenAI(["DONE()"], api_key="right") as srv:
        with pytest.raises(ModelAuthError) as e:
            OpenAIBackend(srv.url, "glm-4.5v", api_key="wrong").generate(user_turn())
        assert "AGENT_API_KEY" in str(e.value)
        assert OpenAIBackend(srv.url, "glm-4.5v", api_key="right").generate(user_turn()).text == "DONE()"


def test_timeout_is_bounded():
    with FakeOpenAI(["DONE()"], delay=2.0) as srv:
        with pytest.raises(ModelUnreachable):
            OpenAIBackend(srv.url, "glm-4.5v", timeout=0.2, retries=0).generate(user_turn())


def test_a_timeout_is_not_retried_and_says_which_limit():
    with FakeOpenAI(["DONE()"], delay=3.0) as srv:
        t = time.monotonic()
        with pytest.raises(ModelTimeout) as e:
            OpenAIBackend(srv.url, "glm-4.5v", timeout=0.5, retries=3, backoff=0.01).generate(user_turn())
        assert time.monotonic() - t < 2.5 and len(srv.requests) == 1
    assert e.value.timeout == 0.5 and "did not answer within 0.5 s" in str(e.value)
    assert "--model-timeout" in str(e.value)


def test_the_call_budget_shrinks_the_request_timeout():
    """GenerationConfig.timeout (the run's time left) beats the backend's own 120 s, retries included."""
    with FakeOpenAI(["DONE()"], delay=5.0) as srv:
        t = time.monotonic()
        with pytest.raises(ModelTimeout) as e:
            OpenAIBackend(srv.url, "glm-4.5v", timeout=120).generate(user_turn(), GenerationConfig(timeout=0.7))
        assert time.monotonic() - t < 3.5
    assert e.value.timeout == pytest.approx(0.7, abs=0.1)
    with FakeOpenAI(["DONE()"], fail_first=100) as srv:  # 5xx retries stop at the budget too
        t = time.monotonic()
        with pytest.raises(ModelServerError):
            OpenAIBackend(srv.url, "glm-4.5v", retries=50, backoff=0.2).generate(user_turn(), GenerationConfig(timeout=1.0))
        assert time.monotonic() - t < 3.0 and srv.hits < 10


def test_default_budget_is_the_official_8192_tokens():
    with FakeOpenAI(["DONE()"]) as srv:
        OpenAIBackend(srv.url, "glm-4.5v").generate(user_turn())
    assert srv.requests[0]["body"]["max_tokens"] == 8192


def test_bad_url():
    with pytest.raises(ValueError):
        OpenAIBackend("localhost:8000", "m")
    with FakeOpenAI(["x"]) as srv:
        with pytest.raises(ModelNotFound) as e:
            OpenAIBackend(srv.url.replace("/v1", "/nope"), "glm-4.5v").generate(user_turn())
        assert "/v1" in str(e.value)
    assert issubclass(ModelResponseError, Exception)
