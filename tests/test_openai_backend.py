"""The OpenAI-compatible backend against a local HTTP server on 127.0.0.1."""

import socket

import pytest
from PIL import Image

from model.base import (GenerationConfig, ImagePart, Message, ModelAuthError, ModelNotFound,
                        ModelResponseError, ModelUnreachable, TextPart)
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
        with pytest.raises(ModelUnreachable) as e:
            OpenAIBackend(srv.url, "glm-4.5v", retries=2, backoff=0.01).generate(user_turn())
    assert srv.hits == 3 and "HTTP 503" in str(e.value)


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


def test_bad_url():
    with pytest.raises(ValueError):
        OpenAIBackend("localhost:8000", "m")
    with FakeOpenAI(["x"]) as srv:
        with pytest.raises(ModelNotFound) as e:
            OpenAIBackend(srv.url.replace("/v1", "/nope"), "glm-4.5v").generate(user_turn())
        assert "/v1" in str(e.value)
    assert issubclass(ModelResponseError, Exception)
