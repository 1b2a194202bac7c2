"""Untrusted text is never console markup (issue: trust holes, item 2).

Model output, screen text, file contents and task goals that look like rich markup (``[/b]``,
``[abc]``, ``[link=…]``, a trailing backslash, terminal escapes) must neither crash a command nor
vanish from what it prints. A fuzz over ``agent.untrusted.shown`` with rich's own renderer, then the
commands themselves: fill (script and data), replay, do, verify, report and eval. ``agent run`` has its
own test (tests/test_run_limits_e2e.py::test_markup_in_model_text_is_printed_verbatim).
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from tests.conftest import HANG_S
from rich.console import Console

from agent.untrusted import shown

TOKENS = ["[", "]", "/", "b", "bold", "[/]", "[/b]", "[abc]", "\\", "[link=http://x]", "[red]", "x", " ", "=",
          "[[", "]]", "[#ff0000]", "\\[", ":smile:", "\x1b[31m", "\x07", "€"]
MARKUP = "[/b] [abc] [bold]x[/bold] \\[y] [link=http://e.x]z[/link] a\\"


def render(text: str) -> str:
    from agent.cli.common import console, err

    assert not console._emoji and not err._emoji  # ":smile:" is text, not an emoji code
    c = Console(record=True, width=400, color_system=None, emoji=False)
    # inside a template, with a tag right after it: a trailing backslash must not eat the "[/]"
    c.print(f"[bold]>[/] [italic]{shown(text)}[/italic]", highlight=False, soft_wrap=True)
    return c.export_text().rstrip("\n").replace("\u200b", "")  # the invisible guard after a backslash


def test_fuzzed_markup_never_crashes_and_is_shown_verbatim():
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
        out = render(text)
        expected = text.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        assert out == f"> {expected}", (text, out)


def test_shown_cuts_long_text_without_breaking_escapes():
    out = Console(record=True, width=400, color_system=None, emoji=False)
    out.print(shown("[b]" * 40, 25), highlight=False)
    assert out.export_text().strip() == ("[b]" * 40)[:24] + "…"


def agent(*args: str, env=None, timeout=HANG_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=timeout)


def test_do_verify_replay_and_report_show_markup_verbatim(tmp_path):
    folder = tmp_path / "t [abc]"
    r = agent("do", "--dry-run", "--out", str(folder), '{"type": "type", "text": "%s"}' % MARKUP.replace("\\", "\\\\"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[/b] [abc] [bold]x[/bold]" in r.stdout and "t [abc]" in r.stdout
    r = agent("verify", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[/b]" in r.stdout and "[abc]" in r.stdout
    r = agent("report", str(folder))
    assert r.returncode == 0 and "t [abc]" in r.stdout, r.stdout + r.stderr
    r = agent("replay", str(tmp_path / "missing [/b]"))
    assert r.returncode == 2 and "missing [/b]" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_eval_shows_a_bad_suite_name_verbatim():
    r = agent("eval", "no-such-[/b]-suite")
    assert r.returncode == 2 and "no-such-[/b]-suite" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.display
def test_fill_prints_script_and_data_markup_verbatim(xdisplay, tmp_path):
    (tmp_path / "f.yaml").write_text('name: "form [/b] [abc]"\nsteps:\n  - click: "Nothing [/b] here"\n'
                                     '    timeout: 0.5\n')
    (tmp_path / "rows.csv").write_text("who\n[bold]Ada[/b]\n")
    r = agent("fill", str(tmp_path / "f.yaml"), "--data", str(tmp_path / "rows.csv"), "--no-kill-hotkey",
              "--out", str(tmp_path / "run"), env=xdisplay.env)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "form [/b] [abc]" in out and "Nothing [/b] here" in out and "Traceback" not in out, out
