"""Model settings from flags, environment and config file; the `agent serve` plan and launcher."""

import sys
import textwrap

import pytest

from model.base import ModelError
from model.config import load_settings
from model.serving import Gpu, LaunchError, launch, plan, tensor_parallel_size


def test_precedence_file_env_flags(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap.dedent("""
        [model]
        url = "http://file:8000/v1"
        name = "from-file"
        timeout = 30
    """))
    assert load_settings({}, env={}, path=cfg).name == "from-file"
    s = load_settings({}, env={"AGENT_MODEL": "from-env"}, path=cfg)
    assert (s.url, s.name, s.timeout) == ("http://file:8000/v1", "from-env", 30)
    s = load_settings({"name": "from-flag", "url": None}, env={"AGENT_MODEL": "from-env"}, path=cfg)
    assert s.name == "from-flag" and s.backend == "openai"


def test_no_model_is_none_and_path_means_transformers(tmp_path):
    assert load_settings({}, env={}, path=tmp_path / "none.toml") is None
    s = load_settings({"path": "/models/GLM-4.5V"}, env={}, path=tmp_path / "none.toml")
    assert s.backend == "transformers"


def test_bad_config_file_is_clear(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nurl = 'http://x/v1'\nurll = 1\n")
    with pytest.raises(ModelError, match="unknown key.*urll"):
        load_settings({}, env={}, path=cfg)
    cfg.write_text("[model\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_settings({}, env={}, path=cfg)


@pytest.mark.parametrize("n, tp", [(0, 1), (1, 1), (2, 2), (3, 2), (4, 4), (6, 4), (8, 8), (16, 8)])
def test_tensor_parallel_size(n, tp):
    assert tensor_parallel_size(n) == tp


def test_vllm_plan_for_four_h100():
    p = plan(gpus=[Gpu("NVIDIA H100 80GB HBM3", 80)] * 4)
    cmd = p.command()
    for flag in ["vllm serve zai-org/GLM-4.5V", "--tensor-parallel-size 4", "--reasoning-parser glm45",
                 "--tool-call-parser glm45", "--served-model-name glm-4.5v", '"image":5', "--port 8000"]:
        assert flag in cmd
    assert p.base_url == "http://127.0.0.1:8000/v1"
    assert not any("warning" in n for n in p.notes)


def test_fp8_plan_and_memory_warning():
    p = plan(gpus=[Gpu("H100", 80)] * 2, fp8=True)
    assert "zai-org/GLM-4.5V-FP8" in p.argv and "--enable-expert-parallel" in p.argv
    small = plan(gpus=[Gpu("H100", 80)] * 2)
    assert any("try --fp8" in n for n in small.notes)
    s = plan(engine="sglang", gpus=[], tp=4)
    assert "sglang.launch_server" in s.command() and "--tp-size 4" in s.command()
    assert any("no NVIDIA GPU" in n for n in s.notes)
    with pytest.raises(ValueError):
        plan(engine="tgi", gpus=[])


def test_launch_waits_until_ready(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = tmp_path / "engine.py"
    server.write_text(textwrap.dedent(f"""
        import time, sys
        sys.path.insert(0, {str(tmp_path.parent)!r})
        time.sleep(0.5)  # "loading weights"
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(b'{{"data": []}}')
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", {port}), H).serve_forever()
    """))
    proc = launch([sys.executable, str(server)], f"http://127.0.0.1:{port}/v1", timeout=20, poll=0.1, log=lambda m: None)
    try:
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait()
    with pytest.raises(LaunchError, match="exited with code 3"):
        launch([sys.executable, "-c", "raise SystemExit(3)"], "http://127.0.0.1:9/v1", timeout=10, poll=0.1)
    with pytest.raises(LaunchError, match="not found on PATH"):
        launch(["no-such-engine-xyz"], "http://127.0.0.1:9/v1")


def test_timeout_from_env_and_the_generation_budget(tmp_path):
    none = tmp_path / "none.toml"
    s = load_settings({"url": "http://h:8000/v1"}, env={"AGENT_MODEL_TIMEOUT": "12.5"}, path=none)
    assert s.timeout == 12.5 and s.max_tokens == 8192
    s = load_settings({"url": "http://h:8000/v1", "timeout": 3.0, "max_tokens": 1000},
                      env={"AGENT_MODEL_TIMEOUT": "12.5"}, path=none)
    assert (s.timeout, s.max_tokens) == (3.0, 1000)  # flags win
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nurl = 'http://x/v1'\ntimeout = 45\nmax_tokens = 4096\n")
    assert (load_settings({}, env={}, path=cfg).timeout, load_settings({}, env={}, path=cfg).max_tokens) == (45, 4096)
    for bad in ({"AGENT_MODEL_TIMEOUT": "soon"}, {"AGENT_MODEL_TIMEOUT": "0"}):
        with pytest.raises(ModelError, match="timeout"):
            load_settings({"url": "http://h/v1"}, env=bad, path=none)
    with pytest.raises(ModelError, match="max_tokens"):
        load_settings({"url": "http://h/v1", "max_tokens": 0}, env={}, path=none)
