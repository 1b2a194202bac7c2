"""The accessibility source's rows of ``bench/elements.py``: the web app in Chromium and a GTK app.

Ground truth is taken from something the source did not produce:

* **web:chromium** — the DOM, read through selenium attached to the running Chromium
  (``tasks.apps.web.dom_truth``): every visible interactive element with its accessible name (the
  screen-reader rules) and its screen box. Measured on the search page and again with the date
  picker's calendar open (a grid of day buttons), after a real pyautogui click.
* **gtk** — the same application's tree walked with **pyatspi** (libatspi, Debian's binding: an
  independent implementation of the protocol our source speaks over D-Bus directly): showing,
  visible nodes of interactive roles with their names and extents. It checks that our pipelined
  reader, role mapping and filters lose nothing and invent nothing; ``yad --form`` is the app.

Times: *cold* a new ``A11ySource`` (connection and role cache empty), *warm* the same source again.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from actions.coords import Rect
from tasks.element_truth import Score, Truth, score

#: DOM roles (dom_truth) → element roles.
_DOM_ROLES = {"spinbutton": "spinbox", "switch": "toggle", "listbox": "list"}
#: pyatspi role names → element roles (the interactive ones).
_ATSPI_ROLES = {"push button": "button", "text": "entry", "password text": "entry", "entry": "entry",
                "check box": "checkbox", "radio button": "radio", "combo box": "combobox",
                "spin button": "spinbox", "toggle button": "toggle", "link": "link", "menu item": "menuitem",
                "page tab": "tab", "slider": "slider"}


def _times(src_factory, repeat: int) -> tuple[list, dict[str, float]]:
    from time import perf_counter

    colds = []
    els = []
    for _ in range(repeat):
        src = src_factory()
        t = perf_counter()
        els = src.snapshot()
        colds.append((perf_counter() - t) * 1000)
    warm = []
    for _ in range(repeat):
        t = perf_counter()
        els = src.snapshot()
        warm.append((perf_counter() - t) * 1000)
    src.close()
    return els, {"cold": statistics.median(colds), "same": statistics.median(warm)}


def web_chromium(row_cls):
    def run(desk, size, repeat: int):
        from actions.backends import PyAutoGUIBackend
        from agent.desktop.a11y_bus import attach
        from agent.elements.a11y import A11ySource
        from tasks.apps.web.dom_truth import DomTruth
        from tasks.apps.web.launch import start_site

        row = row_cls("a11y", "web:chromium", f"{size[0]}x{size[1]}")
        if desk.a11y is None:
            attach(desk)
        with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
            w, h = min(1180, size[0] - 60), min(740, size[1] - 40)
            site = start_site(Path(tmp), env=desk.env, geometry=f"{w}x{h}+40+30", remote_debugging_port=0)
            total = Score()
            try:
                with DomTruth(site.browser) as dom:
                    els, row.times = _times(lambda: A11ySource(desk.display), repeat)
                    total.add(score(_dom_truth(dom.elements()), els))
                    x, y, bw, bh = site.state()["widgets"]["date_button"]
                    mouse = PyAutoGUIBackend()
                    mouse.move(int(x + bw / 2), int(y + bh / 2))
                    mouse.click("left", 1)
                    deadline = time.monotonic() + 20
                    while not any(k.startswith("day:") for k in site.state().get("widgets", {})):
                        if time.monotonic() > deadline:
                            raise TimeoutError("the calendar did not open")
                        time.sleep(0.05)
                    time.sleep(0.3)
                    els, t2 = _times(lambda: A11ySource(desk.display), repeat)
                    row.times["ticked"] = t2["cold"]  # the calendar screen, cold
                    total.add(score(_dom_truth(dom.elements()), els))
            finally:
                site.stop()
        row.quality = total
        return row

    return run


def _dom_truth(items: list[dict]) -> list[Truth]:
    out = []
    for i, d in enumerate(items):
        if d.get("occluded"):
            continue
        role = _DOM_ROLES.get(d["role"], d["role"])
        out.append(Truth(f"dom{i}", role, d.get("name") or "", Rect(*d["bounds"])))
    return out


def gtk_yad(row_cls):
    def run(desk, size, repeat: int):
        from agent.desktop.a11y_bus import attach
        from agent.elements.a11y import A11ySource

        row = row_cls("a11y", "gtk:yad", f"{size[0]}x{size[1]}")
        if shutil.which("yad") is None:
            row.note = "not measured: yad is not installed (apt-get install yad)"
            return row
        if desk.a11y is None:
            attach(desk)
        title = "desk-agent bench form"
        proc = subprocess.Popen(["yad", "--form", f"--title={title}", "--field=Full name", "--field=Email",
                                 "--field=Travel insurance:CHK", "--field=Class:CB", "--field=Seats:NUM",
                                 "--field=Notes:TXT", "", "", "FALSE", "First!^Second", "2!1..9!1", "",
                                 "--geometry=520x420+60+60", "--button=Pay:0", "--button=Cancel:1"],
                                env=desk.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            src = A11ySource(desk.display)
            deadline = time.monotonic() + 30
            while not any(e.name == "Pay" for e in src.snapshot()):
                if time.monotonic() > deadline:
                    raise TimeoutError("yad never showed its Pay button in the tree")
                time.sleep(0.2)
            src.close()
            time.sleep(0.3)
            els, row.times = _times(lambda: A11ySource(desk.display), repeat)
            row.quality = score(_pyatspi_truth(desk, title), els)
        finally:
            proc.kill()
            proc.wait(timeout=5)
        return row

    return run


def _pyatspi_truth(desk, title: str) -> list[Truth]:
    """Interactive showing nodes of the window ``title``, walked with pyatspi (libatspi)."""
    import os

    from agent.desktop.a11y_bus import apply_env

    restore = apply_env(desk.a11y.env)
    try:
        import pyatspi

        desktop = pyatspi.Registry.getDesktop(0)
        out: list[Truth] = []
        for app in desktop:
            if app is None:
                continue
            for win in app:
                if win is None or win.name != title:
                    continue
                _walk(win, out, pyatspi)
        return out
    finally:
        restore()
        os.environ.pop("PYATSPI_NOT_USED", None)


def _walk(node, out: list[Truth], pyatspi) -> None:  # noqa: ANN001 - pyatspi objects
    try:
        states = node.getState()
        if not (states.contains(pyatspi.STATE_SHOWING) and states.contains(pyatspi.STATE_VISIBLE)):
            return
        role = _ATSPI_ROLES.get(node.getRoleName())
        if role == "entry" and states.contains(pyatspi.STATE_MULTI_LINE):
            role = "textarea"
        if role is not None:
            ext = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
            if ext.width > 1 and ext.height > 1:
                name = node.name or ""
                if not name:
                    for rel in node.getRelationSet():
                        if rel.getRelationType() == pyatspi.RELATION_LABELLED_BY and rel.getNTargets():
                            name = rel.getTarget(0).name or ""
                out.append(Truth(f"gtk{len(out)}", role, " ".join(name.split()).rstrip(":"),
                                 Rect(ext.x, ext.y, ext.width, ext.height)))
        for i in range(node.childCount):
            child = node.getChildAtIndex(i)
            if child is not None:
                _walk(child, out, pyatspi)
    except Exception:  # noqa: BLE001 - a node that vanished mid-walk
        return
