"""``agent.cli.progress.Tally``: the done/total, pass rate and ETA line ``agent eval`` prints."""

from __future__ import annotations

import pytest

from agent.cli.progress import Tally, duration


def test_tally_counts_rate_and_eta_from_the_pace_so_far():
    now = [100.0]
    t = Tally(10, clock=lambda: now[0])
    assert t.line() == "0/10 tasks" and t.rate is None and t.eta_s is None
    now[0] = 130.0
    t.add(True).add(False).add(True)  # 3 done in 30 s: 10 s each, 7 left
    assert t.rate == pytest.approx(2 / 3) and t.eta_s == pytest.approx(70.0)
    assert t.line() == "3/10 tasks · 67% passed so far · ETA 1 min 10 s"
    assert t.line("steps", rate=False) == "3/10 steps · ETA 1 min 10 s"
    now[0] = 200.0
    for _ in range(7):
        t.add(True)
    assert t.eta_s == 0 and t.line() == "10/10 tasks · 90% passed so far · took 1 min 40 s"


def test_duration_and_bad_total():
    assert (duration(42.4), duration(185), duration(3720)) == ("42 s", "3 min 05 s", "1 h 02 min")
    with pytest.raises(ValueError):
        Tally(-1)
