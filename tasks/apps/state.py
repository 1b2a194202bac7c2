"""The one way the bundled apps publish their state: a JSON file rewritten atomically on every change.

Tests, evaluators and oracles read it (a reader sees the old file or the new one, never half of one);
it is the app's own account of what happened, independent of what an agent claims.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable


def write_state(path: str | os.PathLike, state: dict) -> None:
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def read_state(path: str | os.PathLike, pred: Callable[[dict], bool] = lambda s: True,
               timeout: float = 30.0) -> dict:
    """The app's latest state once ``pred`` holds; ``TimeoutError`` with the last state seen otherwise."""
    deadline = time.monotonic() + timeout
    last: dict | None = None
    while True:
        try:
            last = json.loads(open(path).read())
            if pred(last):
                return last
        except (FileNotFoundError, json.JSONDecodeError, KeyError, IndexError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"app state in {path} never matched within {timeout:g} s; last: {last}")
        time.sleep(0.03)


#: Tk widget classes -> element roles (``agent.elements.model.ROLES``), for the ground truth below.
TK_ROLES = {
    "Entry": "entry", "TEntry": "entry", "Text": "textarea", "Spinbox": "spinbox", "TSpinbox": "spinbox",
    "TCombobox": "combobox", "Checkbutton": "checkbox", "TCheckbutton": "checkbox", "Radiobutton": "radio",
    "TRadiobutton": "radio", "Button": "button", "TButton": "button", "Label": "label", "TLabel": "label",
}


def publish_on_change(root, variables, write: Callable[[], None], *, text=None, first_ms: int = 80) -> None:
    """Call ``write`` (an app's state-file writer) on every change a test or benchmark waits on: a
    variable written, the window moved or resized, a widget drawn, the focus moved, ``text`` (a Tk
    ``Text``) edited; and once shortly after start-up."""
    for var in variables:
        var.trace_add("write", lambda *_: write())
    if text is not None:
        def edited(_e=None) -> None:
            text.edit_modified(False)
            write()
        text.bind("<<Modified>>", edited)
    root.bind("<Configure>", lambda e: write() if e.widget is root else None)
    root.bind_all("<Map>", lambda e: root.after(20, write), add="+")  # widgets drawn
    root.bind_all("<FocusIn>", lambda e: root.after(10, write), add="+")
    root.after(first_ms, write)


def window_box(root) -> list[int]:
    """The window's screen box [left, top, width, height], as the state files report it."""
    return [root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height()]


def widget_truth(w, key: str, name: str, *, value=None, group: str | None = None, row: str | None = None,
                 checked: bool | None = None) -> dict:
    """One widget as the app itself knows it: the ground truth an element source is measured against.

    ``name`` is what a person reads for it (the label next to or above an entry, a button's caption,
    the text of a tick box); ``box`` comes from Tk's own ``winfo_rootx/rooty/width/height`` (screen
    pixels, the widget's border included). ``states`` uses the element model's state names ("enabled"
absent means greyed out)."""
    cls = w.winfo_class()
    states = ["enabled"]
    try:
        st = str(w.cget("state"))
    except Exception:  # noqa: BLE001 - a ttk widget keeps its state elsewhere
        st = "disabled" if "disabled" in w.state() else ""
    if st == "disabled":
        states.remove("enabled")
    elif st == "readonly":
        states.append("readonly")
    if checked:
        states.append("checked")
    try:
        if w.focus_get() is w:
            states.append("focused")
    except Exception:  # noqa: BLE001 - focus_get fails while a popdown owns the focus
        pass
    return {"key": key, "class": cls, "role": TK_ROLES.get(cls, "other"), "name": name, "value": value,
            "group": group, "row": row, "states": states,
            "box": [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()],
            "mapped": bool(w.winfo_ismapped())}


def open_store(path: str | os.PathLike, schema: str) -> "sqlite3.Connection":
    """A Tk app's sqlite store, its table created when missing (the apps' own record of what was saved)."""
    import sqlite3

    con = sqlite3.connect(os.fspath(path))
    con.execute(schema)
    con.commit()
    return con


def read_rows(path: str | os.PathLike, schema: str, table: str) -> list[dict]:
    """Every row of ``table`` in a store, oldest first, as dicts; [] when the store does not exist yet
    (what tests and evaluators judge a fill by)."""
    import sqlite3

    if not os.path.exists(path):
        return []
    con = open_store(path, schema)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY id")]
    finally:
        con.close()
