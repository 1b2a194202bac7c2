"""The doctor's model endpoint check against a local OpenAI-compatible server."""

from agent.desktop.doctor_model import model_endpoint
from tests.fake_openai import FakeOpenAI


def test_model_endpoint_check(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENT_CONFIG", str(tmp_path / "none.toml"))
    for v in ("AGENT_MODEL_URL", "AGENT_MODEL", "AGENT_MODEL_PATH", "AGENT_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    assert model_endpoint(None).status == "skip"
    with FakeOpenAI(["DONE()"]) as srv:
        monkeypatch.setenv("AGENT_MODEL_URL", srv.url)
        c = model_endpoint(None)
        assert c.status == "ok" and "glm-4.5v" in c.detail
        monkeypatch.setenv("AGENT_MODEL", "other-model")
        c = model_endpoint(None)
        assert c.status == "fail" and "other-model" in c.detail
    monkeypatch.setenv("AGENT_MODEL", "glm-4.5v")
    c = model_endpoint(None)  # server gone
    assert c.status == "fail" and "cannot reach" in c.detail
    monkeypatch.delenv("AGENT_MODEL_URL")
    monkeypatch.setenv("AGENT_MODEL_PATH", str(tmp_path))
    assert model_endpoint(None).status == "fail"
