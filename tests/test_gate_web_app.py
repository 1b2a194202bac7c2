"""The risky-action gate on the bundled web app (Rail&Go in Chromium): a click on its "Pay €…" button
that carries no target description at all is stopped, and the reason names the button as the
accessibility tree gives it and as it is drawn. The booking is driven to the payment page by the
task's own scripted steps (real pyautogui input); nothing is booked."""

from __future__ import annotations

import sqlite3

import pytest

from actions.errors import ConfirmationDenied
from actions.space import Click

pytestmark = pytest.mark.display


def test_a_bare_click_on_the_web_apps_pay_button_is_stopped_naming_it(a11y_display, tmp_path):
    from actions.backends import PyAutoGUIBackend
    from actions.executor import Executor
    from actions.safety import SafetyPolicy
    from agent.elements.probe import LiveScreenProbe
    from agent.elements.snapshot import ElementModeler
    from agent.screen import Screen
    from agent.steps import StepRunner
    from tasks.environment import start_app
    from tasks.oracle import OracleApprover, OracleContext
    from tasks.solutions_web import _book, _search
    from tasks.spec import load_specs

    inst = load_specs()["web.book_ticket"].instantiate(1)
    app = start_app(inst, tmp_path / "app", env=a11y_display.env)
    try:
        approver = OracleApprover(allowed=False)
        ex = Executor(PyAutoGUIBackend(), SafetyPolicy(max_steps=200, max_seconds=300), confirmer=approver,
                      probe=LiveScreenProbe())
        with Screen(a11y_display.display) as screen:
            runner = StepRunner(ex, screen, None, elements=ElementModeler.auto(a11y_display.display))
            ctx = OracleContext(runner, app, approver, grounding="app")
            p = inst.params
            s = _search(ctx, p, int(p["passengers"]))
            with pytest.raises(ConfirmationDenied) as stop:  # the oracle's own Pay click is refused too
                _book(ctx, p, s, p["departure"], seat=p["seat"], insurance=p["insurance"] == "with",
                      notes="", card=p["card"])
            x, y, w, h = app.state()["widgets"]["pay"]
            with pytest.raises(ConfirmationDenied) as bare:  # and a click that says nothing about its target
                runner.act(Click(x + w / 2, y + h / 2))
        reason = str(bare.value)
        assert "the element under the pointer (button) reads 'Pay €" in reason, reason
        assert "pay" in str(stop.value).lower()
        assert approver.refusals and not approver.approvals
        assert app.state()["page"] == "payment"
        con = sqlite3.connect(app.db_path)
        assert con.execute("SELECT count(*) FROM bookings").fetchone()[0] == 0
        con.close()
    finally:
        app.stop()
