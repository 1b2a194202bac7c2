"""``agent run`` against a local OpenAI-compatible server on 127.0.0.1 answering like GLM-4.5V, on a real
Xvfb: the time cap holds while the model is thinking, model failures say what they are, the model's
whole output (and the server's separate reasoning) is kept, an answer at the screen's far edge is a
click the executor accepts, and model text with rich markup in it is printed as it is."""

from __future__ import annotations

import json
import time

import pytest

from tests.fake_openai import FakeOpenAI
from tests.test_run_e2e import glm, run_agent

pytestmark = pytest.mark.display


def steps_of(out) -> list[dict]:
    return [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]


def status_of(out) -> dict:
    return json.loads((out / "manifest.json").read_text())["status"]


# --- 2. the time cap holds while waiting for the model -------------------------------------------

def test_max_seconds_holds_while_the_model_thinks(xdisplay, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI([glm("left_click(start_box='[500,500]')")], delay=30) as srv:
        t = time.monotonic()
        r = run_agent("anything", srv.url, xdisplay, out, "--max-seconds", "6", timeout=120)
        took = time.monotonic() - t
    assert r.returncode == 3, r.stdout + r.stderr
    assert took < 22, f"the 6 s cap took {took:.1f} s (the model answers after 30 s)"
    status = status_of(out)  # sealed
    assert status["status"] == "stopped" and "time cap" in status["reason"] and "6 s" in status["reason"]
    assert len(srv.requests) == 1
    assert not [s for s in steps_of(out) if s.get("ok")]  # nothing acted after the cap
    assert "time cap" in r.stdout


@pytest.mark.parametrize("how", ["flag", "env"])
def test_model_timeout_bounds_one_request(xdisplay, tmp_path, how, monkeypatch):
    out = tmp_path / "run"
    extra = ["--model-timeout", "2"] if how == "flag" else []
    if how == "env":
        monkeypatch.setitem(xdisplay.env, "AGENT_MODEL_TIMEOUT", "2")
    with FakeOpenAI([glm("DONE()")], delay=30) as srv:
        t = time.monotonic()
        r = run_agent("anything", srv.url, xdisplay, out, *extra, timeout=120)
        took = time.monotonic() - t
    assert r.returncode == 4, r.stdout + r.stderr
    assert took < 20, f"a 2 s model timeout took {took:.1f} s"
    assert "did not answer within 2 s" in r.stdout and status_of(out)["status"] == "model_error"


# --- 3. an HTTP 500 is a failed server, not an unreachable one -----------------------------------

def test_http_500_is_reported_as_a_server_failure(xdisplay, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI([glm("DONE()")], fail_first=10**6, fail_status=500,
                    fail_message="CUDA out of memory. Tried to allocate 2.00 GiB") as srv:
        r = run_agent("anything", srv.url, xdisplay, out, timeout=120)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "the model server failed: HTTP 500: CUDA out of memory. Tried to allocate 2.00 GiB" in r.stdout
    assert "cannot reach" not in r.stdout and len(srv.requests) == 4  # retried 3 times first
    assert status_of(out)["status"] == "model_error"


def test_refused_connection_is_reported_as_unreachable(xdisplay, tmp_path):
    r = run_agent("anything", "http://127.0.0.1:9/v1", xdisplay, tmp_path / "run")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "cannot reach the model server" in r.stdout and "failed: HTTP" not in r.stdout


# --- 4. the generation budget and the whole output -----------------------------------------------

def test_whole_output_and_reasoning_are_kept_and_masked(xdisplay, tmp_path, monkeypatch):
    monkeypatch.setitem(xdisplay.env, "RUN_PW", "hunter2-secret")
    thought = "I look at the screen very carefully. " * 300  # ~11,000 characters
    answer = glm("left_click(start_box='[500,500]')", thought + "I typed {{secret:RUN_PW}} before.")
    reasoning = "Reasoning step by step about the desktop. " * 200 + "The password was hunter2-secret."
    out = tmp_path / "run"
    with FakeOpenAI([glm("type(content='{{secret:RUN_PW}}')"), answer, glm("DONE()")],
                    reasoning=[None, reasoning, None]) as srv:
        r = run_agent("anything", srv.url, xdisplay, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert srv.requests[0]["body"]["max_tokens"] == 8192  # the official GLM-V example's budget
    second = steps_of(out)[1]
    assert len(second["model_output"]) == len(answer) - len("{{secret:RUN_PW}}") + 3  # all of it
    assert second["model_output"].endswith("Memory:\n[]") and "I typed *** before." in second["model_output"]
    assert len(second["reasoning"]) > 8000 and second["reasoning"].endswith("The password was ***.")
    assert steps_of(out)[0]["reasoning"] is None
    assert "hunter2" not in (out / "steps.jsonl").read_text()


def test_max_tokens_flag_and_parse_errors_keep_the_whole_output(xdisplay, tmp_path):
    rambling = "Let me think about this for a while. " * 200  # no action: a parse error
    out = tmp_path / "run"
    with FakeOpenAI([rambling, glm("DONE()")], reasoning="short thought") as srv:
        r = run_agent("anything", srv.url, xdisplay, out, "--max-tokens", "1234")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [q["body"]["max_tokens"] for q in srv.requests] == [1234, 1234]
    bad = steps_of(out)[0]
    assert bad["ok"] is False and bad["model_output"] == rambling and bad["reasoning"] == "short thought"


# --- 5. the far edge is on the screen ------------------------------------------------------------

def test_far_edge_answer_is_a_click_the_executor_accepts(xdisplay, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI([glm("left_click(start_box='[1000,500]', element_info='right edge')"), glm("DONE()")]) as srv:
        r = run_agent("click the right edge", srv.url, xdisplay, out)
    assert r.returncode == 0, r.stdout + r.stderr
    first = steps_of(out)[0]
    assert first["ok"] is True and first["error"] is None
    assert (first["action"]["x"], first["action"]["y"]) == (1279, 400)
    assert "outside the screen" not in request_texts(srv)


def request_texts(srv) -> str:
    return json.dumps([q["body"]["messages"] for q in srv.requests])[:200000]


# --- console: model text is data, never markup ---------------------------------------------------

def test_markup_in_model_text_is_printed_verbatim(xdisplay, tmp_path):
    weird = "[/b] [abc] [bold]x"
    out = tmp_path / "run"
    answers = [glm("left_click(start_box='[500,500]', element_info='[/] middle')", weird),
               glm("DONE(answer='[red]ok[/red] [/]')", weird)]
    with FakeOpenAI(answers) as srv:
        r = run_agent("check [/b] markup", srv.url, xdisplay, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "MarkupError" not in r.stderr
    assert r.stdout.count(weird) == 2
    assert "check [/b] markup" in r.stdout and "[red]ok[/red] [/]" in r.stdout
    assert status_of(out)["status"] == "done"
