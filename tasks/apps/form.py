"""The bundled sample form: a real Tk window whose submissions land in sqlite.

It exists so a new user can try ``agent fill`` at once (``agent fill examples/form/fill.yaml --data
examples/form/people.csv --app sample --virtual``) and so the tests can check, field by field, what
really arrived — the app's own database is the judge, not the agent's claim.

The form has text fields (first name, last name, email, phone), a date (typed as YYYY-MM-DD and
validated by the app, as many real forms do), a dropdown (a read-only ttk Combobox of countries),
two checkboxes, a *Save* and a *Clear* button (scripts use Clear to reset after a failed row). Saving validates the required fields, writes one row, clears the
form and shows ``Saved: FIRST LAST (#ID)``; a rejected submission shows ``Error: ...`` and keeps
the input, like a real form. Below, *Saved contacts* lists the latest stored emails (newest first,
read from the store, so a restarted app shows them too): what a person — or a fill script's
``already_done: "{email}"`` check on resume — looks at to see whether a record is already there. The caption is "Save" rather than "Submit" so the default risky words
do not ask for a confirmation on every row of the demo.

With ``--state FILE`` (the ``form.*`` tasks of ``agent eval``) it also rewrites a JSON state file on
every change, like the other bundled apps: the widgets' boxes in screen coordinates keyed by field
name (plus ``save``, ``clear`` and, while the country list is open, ``option:<country>``), the
current values, the status message, the number of stored submissions and ``elements``, the ground
truth element sources are measured against (``tasks.apps.state.widget_truth``). Without it nothing
changes.

    python -m tasks.apps.form --db /tmp/form.sqlite [--state /tmp/form.json] [--geometry 620x560+40+30]
        [--dark] [--font-size 12] [--exit-with-parent]

``--exit-with-parent``: close when the process that started it dies (``agent fill --app sample``
uses it, so a fill killed with ``kill -9`` does not leave its sample window on the screen).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sqlite3
import tkinter as tk
from pathlib import Path
from tkinter import ttk

from tasks.apps.state import open_store, publish_on_change, read_rows, widget_truth, write_state

TITLE = "desk-agent sample form"
COUNTRIES = ("Norway", "Sweden", "Denmark", "Finland", "Iceland", "Germany", "France", "Spain")
TEXT_FIELDS = (("first_name", "First name"), ("last_name", "Last name"), ("email", "Email"),
               ("phone", "Phone"), ("birth_date", "Date of birth"))
REQUIRED = ("first_name", "last_name", "email", "country")
SAVED_SHOWN = 3  # latest submissions listed under "Saved contacts"
COLUMNS = ("first_name", "last_name", "email", "phone", "birth_date", "country", "newsletter", "terms")

SCHEMA = """CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL,
    birth_date TEXT NOT NULL, country TEXT NOT NULL, newsletter INTEGER NOT NULL, terms INTEGER NOT NULL,
    created TEXT NOT NULL)"""


def open_db(path: str | Path) -> sqlite3.Connection:
    return open_store(path, SCHEMA)


def read_submissions(path: str | Path) -> list[dict]:
    """Every stored submission as a dict (tests and the CLI summary read the store with this)."""
    return read_rows(path, SCHEMA, "submissions")


def validate(values: dict) -> str | None:
    """The app's own rules: what a person would be told on a rejected submission."""
    missing = [label for key, label in (*TEXT_FIELDS, ("country", "Country")) if key in REQUIRED and not values[key]]
    if missing:
        return "please fill in " + ", ".join(missing)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["email"]):
        return "email is not valid"
    if values["birth_date"]:
        try:
            dt.date.fromisoformat(values["birth_date"])
        except ValueError:
            return "date of birth must be YYYY-MM-DD"
    return None


class FormApp:
    def __init__(self, root: tk.Tk, db: str, *, dark: bool = False, font_size: int = 12,
                 state: str | None = None) -> None:
        self.root, self.db, self.state_path = root, db, state
        open_db(db).close()
        self.widgets: dict[str, tk.Widget] = {}
        root.title(TITLE)
        bg, fg, field_bg = ("#2b2b2b", "#f0f0f0", "#3c3f41") if dark else ("#ececec", "#111111", "#ffffff")
        root.configure(bg=bg, padx=24, pady=16)
        font = ("DejaVu Sans", font_size)
        style = ttk.Style(root)
        style.configure("TCombobox", fieldbackground=field_bg, foreground=fg)
        root.option_add("*TCombobox*Listbox.font", font)
        tk.Label(root, text="Contact details", font=("DejaVu Sans", font_size + 4, "bold"), bg=bg,
                 fg=fg).grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 14))
        self.vars: dict[str, tk.Variable] = {}
        self.first_entry = None
        for i, (key, label) in enumerate(TEXT_FIELDS, start=1):
            tk.Label(root, text=label, font=font, bg=bg, fg=fg).grid(row=i, column=0, sticky="w", pady=7)
            var = tk.StringVar()
            e = tk.Entry(root, textvariable=var, font=font, width=26, bg=field_bg, fg=fg,
                         insertbackground=fg, relief="solid", borderwidth=1)
            e.grid(row=i, column=1, sticky="w", padx=(18, 0), ipady=3)
            self.first_entry = self.first_entry or e
            self.vars[key] = var
            self.widgets[key] = e
        row = len(TEXT_FIELDS) + 1
        tk.Label(root, text="Country", font=font, bg=bg, fg=fg).grid(row=row, column=0, sticky="w", pady=7)
        self.vars["country"] = tk.StringVar()
        self.combo = ttk.Combobox(root, textvariable=self.vars["country"], values=COUNTRIES, state="readonly",
                                  font=font, width=24)
        self.combo.grid(row=row, column=1, sticky="w", padx=(18, 0), ipady=2)
        self.widgets["country"] = self.combo
        for j, (key, label) in enumerate((("newsletter", "Subscribe to newsletter"),
                                          ("terms", "I accept the terms")), start=row + 1):
            self.vars[key] = tk.BooleanVar()
            cb = tk.Checkbutton(root, text=label, variable=self.vars[key], font=font, bg=bg, fg=fg,
                                activebackground=bg, activeforeground=fg, selectcolor=field_bg,
                                highlightthickness=0)
            cb.grid(row=j, column=1, sticky="w", padx=(14, 0), pady=3)
            self.widgets[key] = cb
        buttons = tk.Frame(root, bg=bg)
        buttons.grid(row=row + 3, column=1, sticky="w", padx=(18, 0), pady=(14, 6))
        self.widgets["save"] = tk.Button(buttons, text="Save", font=font, width=10, command=self.save)
        self.widgets["save"].pack(side="left")
        self.widgets["clear"] = tk.Button(buttons, text="Clear", font=font, width=10, command=self.clear)
        self.widgets["clear"].pack(side="left", padx=(16, 0))
        self.status = tk.StringVar(value="Ready")
        tk.Label(root, textvariable=self.status, font=font, bg=bg, fg=fg, anchor="w", width=40).grid(
            row=row + 4, column=0, columnspan=2, sticky="w", pady=(8, 0))
        tk.Label(root, text="Saved contacts", font=(font[0], font_size, "bold"), bg=bg, fg=fg).grid(
            row=row + 5, column=0, columnspan=2, sticky="w", pady=(10, 0))
        self.saved = tk.StringVar()
        tk.Label(root, textvariable=self.saved, font=font, bg=bg, fg=fg, justify="left", anchor="nw").grid(
            row=row + 6, column=0, columnspan=2, sticky="w")
        self.show_saved()
        self.first_entry.focus_set()
        if state:
            self._publish_state()

    # the optional state file (--state) --------------------------------------------------------------
    def _publish_state(self) -> None:
        root = self.root
        publish_on_change(root, (*self.vars.values(), self.status), self.write_state, first_ms=50)
        # the country list is a separate Tk toplevel (the combobox's popdown): publish its items' boxes
        # once it is shown, and drop them when it is hidden
        self.popdown = str(root.tk.call("ttk::combobox::PopdownWindow", str(self.combo)))
        later = root.register(lambda *_: root.after(60, self.write_state))
        for event in ("<Map>", "<Unmap>"):
            root.tk.call("bind", self.popdown, event, "+" + later)
        # and again while it is open: on a busy machine the list may still be laid out at the first report
        opened = root.register(lambda *_: root.after(150, self._while_open))
        root.tk.call("bind", self.popdown, "<Map>", "+" + opened)

    def _while_open(self) -> None:
        if int(self.root.tk.call("winfo", "ismapped", self.popdown)):
            self.write_state()
            self.root.after(150, self._while_open)

    def _box(self, w: tk.Widget | str) -> list[int]:
        call = self.root.tk.call
        return [int(call("winfo", what, str(w))) for what in ("rootx", "rooty", "width", "height")]

    def _options(self) -> dict[str, list[int]]:
        call = self.root.tk.call
        if not int(call("winfo", "ismapped", self.popdown)):
            return {}
        lb = f"{self.popdown}.f.l"
        x, y, w, _ = self._box(lb)
        out = {}
        for i, name in enumerate(COUNTRIES):
            bb = self.root.tk.splitlist(call(lb, "bbox", i))
            if len(bb) == 4:
                out[f"option:{name}"] = [x, y + int(bb[1]), w, int(bb[3])]
        return out

    def write_state(self) -> None:
        if not self.state_path:
            return
        count = len(read_submissions(self.db))
        options = self._options()
        write_state(self.state_path, {
            "window": self._box(self.root),
            "widgets": {k: self._box(w) for k, w in self.widgets.items()} | options,
            "values": self.values(),
            "options": [k.split(":", 1)[1] for k in options],
            "status": self.status.get(),
            "submissions": count,
            "elements": self.elements(),
        })

    def show_saved(self) -> None:
        latest = read_submissions(self.db)[::-1][:SAVED_SHOWN]
        self.saved.set("\n".join(f"#{r['id']}  {r['email']}" for r in latest) or "(none yet)")

    def elements(self) -> list[dict]:
        """Ground truth for element sources: every widget's role, the label a person reads, value, box."""
        names = dict(TEXT_FIELDS) | {"country": "Country", "newsletter": "Subscribe to newsletter",
                                     "terms": "I accept the terms", "save": "Save", "clear": "Clear"}
        v = self.values()
        out = []
        for key, w in self.widgets.items():
            checkable = key in ("newsletter", "terms")
            value = None if checkable or key in ("save", "clear") else v[key]
            out.append(widget_truth(w, key, names[key], value=value, checked=bool(v[key]) if checkable else None))
        return out

    def values(self) -> dict:
        v = {k: (var.get().strip() if isinstance(var, tk.StringVar) else bool(var.get()))
             for k, var in self.vars.items()}
        return v

    def save(self) -> None:
        v = self.values()
        problem = validate(v)
        if problem:
            self.status.set(f"Error: {problem}")
            return
        con = open_db(self.db)
        try:
            cur = con.execute(
                f"INSERT INTO submissions ({', '.join(COLUMNS)}, created) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                [v[c] if not isinstance(v[c], bool) else int(v[c]) for c in COLUMNS]
                + [dt.datetime.now().isoformat(timespec="seconds")])
            con.commit()
            rid = cur.lastrowid
        finally:
            con.close()
        self.clear()
        self.show_saved()
        self.status.set(f"Saved: {v['first_name']} {v['last_name']} (#{rid})")

    def clear(self) -> None:
        for var in self.vars.values():
            var.set(False if isinstance(var, tk.BooleanVar) else "")
        self.status.set("Ready")
        self.first_entry.focus_set()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="sqlite file the submissions are stored in")
    ap.add_argument("--geometry", default="620x560+40+30")
    ap.add_argument("--dark", action="store_true", help="dark theme")
    ap.add_argument("--font-size", type=int, default=12)
    ap.add_argument("--state", help="JSON file the app rewrites on every change (widget boxes, status, count)")
    ap.add_argument("--exit-with-parent", action="store_true", help="close when the starting process dies")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    FormApp(root, args.db, dark=args.dark, font_size=args.font_size, state=args.state)
    if args.exit_with_parent:
        _exit_with_parent(root, os.getppid())
    root.mainloop()


def _exit_with_parent(root: tk.Tk, parent: int) -> None:
    """Poll: once the parent is gone (we were re-parented), close."""
    def check() -> None:
        if os.getppid() != parent:
            root.destroy()
        else:
            root.after(250, check)

    root.after(250, check)


if __name__ == "__main__":
    main()
