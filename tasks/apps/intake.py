"""A patient intake form (Tk + sqlite) whose labels sit *above* their fields.

Why another form: the sample form (``tasks.apps.form``) puts every label left of its field, and an
element source tuned on it can pass while failing on the next app. This one is laid out the other
way and holds the widgets that broke the old OCR heuristics: labels 2-3 px above two ttk spinboxes
with a combobox below them, a radio group whose "Female" comes before "Male", a read-only combobox
with 36 countries, tick boxes, a 280 px tall multi-line Notes box, two fields side by side on one row
(each label above its own field), and Save/Clear buttons. Save validates, stores one row in sqlite
and clears the form (``Saved: NAME (#ID)``); a rejected save shows ``Error: ...`` and keeps the input.

With ``--state FILE`` it rewrites a JSON file on every change: ``elements`` is the ground truth an
element source is measured against (each widget's class, role, the label a person reads for it, its
value, states and its box from Tk's own ``winfo``), plus ``values``, ``status`` and ``submissions``.

    python -m tasks.apps.intake --db /tmp/intake.sqlite [--state /tmp/intake.json]
        [--geometry 760x600+30+20] [--font-size 11] [--font "DejaVu Sans Condensed"]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sqlite3
import tkinter as tk
from pathlib import Path
from tkinter import font as tkfont, ttk

from tasks.apps.state import open_store, read_rows, publish_on_change, widget_truth, window_box, write_state

TITLE = "desk-agent intake"
COUNTRIES = ("Argentina", "Australia", "Austria", "Belgium", "Brazil", "Canada", "Chile", "China", "Croatia",
             "Denmark", "Egypt", "Estonia", "Finland", "France", "Germany", "Greece", "Iceland", "India",
             "Ireland", "Italy", "Japan", "Kenya", "Latvia", "Mexico", "Netherlands", "Norway", "Peru",
             "Poland", "Portugal", "Romania", "Spain", "Sweden", "Switzerland", "Turkey", "Ukraine", "Uruguay")
SEXES = ("Female", "Male", "Other")
#: key, label (read above the field)
ENTRIES = (("full_name", "Full name"), ("email", "Email address"), ("phone", "Phone"), ("postcode", "Postcode"))
SPINS = (("age", "Age", 0, 120), ("children", "Children", 0, 20))
CHECKS = (("smoker", "Smoker"), ("allergies", "Has allergies"), ("consent", "Consent to contact by email"))
COLUMNS = ("full_name", "email", "phone", "postcode", "sex", "age", "children", "country", "smoker",
           "allergies", "consent", "notes")
SCHEMA = """CREATE TABLE IF NOT EXISTS intakes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, full_name TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL,
    postcode TEXT NOT NULL, sex TEXT NOT NULL, age TEXT NOT NULL, children TEXT NOT NULL, country TEXT NOT NULL,
    smoker INTEGER NOT NULL, allergies INTEGER NOT NULL, consent INTEGER NOT NULL, notes TEXT NOT NULL,
    created TEXT NOT NULL)"""


def open_db(path: str | Path) -> sqlite3.Connection:
    return open_store(path, SCHEMA)


def read_intakes(path: str | Path) -> list[dict]:
    """Every stored intake as a dict (what tests judge a fill by)."""
    return read_rows(path, SCHEMA, "intakes")


def validate(v: dict) -> str | None:
    if not v["full_name"]:
        return "please fill in Full name"
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v["email"]):
        return "email is not valid"
    for key, label, lo, hi in SPINS:
        if v[key] and not (v[key].isdigit() and lo <= int(v[key]) <= hi):
            return f"{label} must be a number from {lo} to {hi}"
    return None


class IntakeApp:
    def __init__(self, root: tk.Tk, db: str, *, state: str | None = None, font_size: int = 11,
                 family: str = "DejaVu Sans Condensed") -> None:
        self.root, self.db, self.state_path = root, db, state
        open_db(db).close()
        root.title(TITLE)
        bg = "#e8e6e1"
        root.configure(bg=bg, padx=22, pady=14)
        font, small = (family, font_size), (family, font_size - 1)
        root.option_add("*TCombobox*Listbox.font", font)
        self.truth: list[tuple[tk.Widget, str, str, dict]] = []  # widget, key, name, extra
        self.vars: dict[str, tk.Variable] = {}
        left = tk.Frame(root, bg=bg)
        left.grid(row=1, column=0, sticky="nw")
        right = tk.Frame(root, bg=bg)
        right.grid(row=1, column=1, sticky="nw", padx=(36, 0))
        tk.Label(root, text="Patient intake", font=("DejaVu Serif", font_size + 5, "bold"), bg=bg).grid(
            row=0, column=0, columnspan=2, sticky="w", pady=(0, 10))

        def label(parent, text, row, col=0, pady=(8, 2)):
            tk.Label(parent, text=text, font=small, bg=bg).grid(row=row, column=col, sticky="w", pady=pady)

        # full name and email: one per row; phone and postcode side by side, each label above its field
        r = 0
        for key, text in ENTRIES[:2]:
            label(left, text, r)
            self.vars[key] = tk.StringVar()
            e = tk.Entry(left, textvariable=self.vars[key], font=font, width=34, relief="sunken", bd=2)
            e.grid(row=r + 1, column=0, columnspan=2, sticky="w")
            self.truth.append((e, key, text, {}))
            r += 2
        for col, (key, text) in enumerate(ENTRIES[2:]):
            label(left, text, r, col)
            self.vars[key] = tk.StringVar()
            e = tk.Entry(left, textvariable=self.vars[key], font=font, width=15, relief="sunken", bd=2)
            e.grid(row=r + 1, column=col, sticky="w", padx=(0, 12))
            self.truth.append((e, key, text, {}))
        r += 2
        # the radio group: a caption above a row of radios
        label(left, "Sex", r)
        self.vars["sex"] = tk.StringVar(value="")
        radios = tk.Frame(left, bg=bg)
        radios.grid(row=r + 1, column=0, columnspan=2, sticky="w")
        for text in SEXES:
            rb = tk.Radiobutton(radios, text=text, value=text, variable=self.vars["sex"], font=font, bg=bg,
                                activebackground=bg, highlightthickness=0, tristatevalue="<none>")
            rb.pack(side="left", padx=(0, 18))
            self.truth.append((rb, f"sex:{text}", text, {"group": "Sex", "radio": text}))
        r += 2
        # two spinboxes whose labels sit 2 px above them, then the combobox below
        for col, (key, text, lo, hi) in enumerate(SPINS):
            label(left, text, r, col, pady=(10, 0))
            self.vars[key] = tk.StringVar(value="")
            sp = ttk.Spinbox(left, from_=lo, to=hi, textvariable=self.vars[key], width=8, font=font)
            sp.grid(row=r + 1, column=col, sticky="w", pady=(2, 0))
            self.truth.append((sp, key, text, {}))
        r += 2
        label(left, "Country of birth", r)
        self.vars["country"] = tk.StringVar()
        self.combo = ttk.Combobox(left, textvariable=self.vars["country"], values=COUNTRIES, state="readonly",
                                  font=font, width=22)
        self.combo.grid(row=r + 1, column=0, columnspan=2, sticky="w")
        self.truth.append((self.combo, "country", "Country of birth", {}))
        r += 2
        checks = tk.Frame(left, bg=bg)
        checks.grid(row=r, column=0, columnspan=2, sticky="w", pady=(14, 0))
        for key, text in CHECKS:
            self.vars[key] = tk.BooleanVar()
            cb = tk.Checkbutton(checks, text=text, variable=self.vars[key], font=font, bg=bg,
                                activebackground=bg, highlightthickness=0)
            cb.pack(anchor="w", pady=1)
            self.truth.append((cb, key, text, {"check": key}))
        # right column: the multi-line Notes box
        tk.Label(right, text="Notes", font=small, bg=bg).grid(row=0, column=0, sticky="w", pady=(8, 2))
        self.notes = tk.Text(right, width=34, height=1, font=font, relief="sunken", bd=2, wrap="word")
        self.notes.grid(row=1, column=0, sticky="nw")
        self.notes.configure(height=max(1, round(280 / tkfont.Font(font=font).metrics("linespace"))))
        self.truth.append((self.notes, "notes", "Notes", {}))
        buttons = tk.Frame(root, bg=bg)
        buttons.grid(row=2, column=0, columnspan=2, sticky="w", pady=(18, 4))
        for key, text, cmd in (("save", "Save", self.save), ("clear", "Clear", self.clear)):
            b = tk.Button(buttons, text=text, font=font, width=9, command=cmd)
            b.pack(side="left", padx=(0, 14))
            self.truth.append((b, key, text, {}))
        self.status = tk.StringVar(value="Ready")
        tk.Label(root, textvariable=self.status, font=small, bg=bg, anchor="w").grid(
            row=3, column=0, columnspan=2, sticky="w")
        self.truth[0][0].focus_set()
        if state:
            publish_on_change(root, (*self.vars.values(), self.status), self.write_state, text=self.notes)

    # state -----------------------------------------------------------------------------------------
    def values(self) -> dict:
        v = {k: (var.get().strip() if isinstance(var, tk.StringVar) else bool(var.get()))
             for k, var in self.vars.items()}
        v["notes"] = self.notes.get("1.0", "end-1c")
        return v

    def elements(self) -> list[dict]:
        v, out = self.values(), []
        for w, key, name, extra in self.truth:
            if "radio" in extra:
                value, checked = None, v["sex"] == extra["radio"]
            elif "check" in extra:
                value, checked = None, v[extra["check"]]
            elif key in ("save", "clear"):
                value, checked = None, None
            else:
                value, checked = v[key], None
            out.append(widget_truth(w, key, name, value=value, group=extra.get("group"), checked=checked))
        return out

    def write_state(self) -> None:
        if not self.state_path:
            return
        write_state(self.state_path, {
            "window": window_box(self.root),
            "elements": self.elements(), "values": self.values(), "status": self.status.get(),
            "submissions": len(read_intakes(self.db))})

    # actions ---------------------------------------------------------------------------------------
    def save(self) -> None:
        v = self.values()
        problem = validate(v)
        if problem:
            self.status.set(f"Error: {problem}")
            return
        con = open_db(self.db)
        try:
            cur = con.execute(
                f"INSERT INTO intakes ({', '.join(COLUMNS)}, created) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                [int(v[c]) if isinstance(v[c], bool) else v[c] for c in COLUMNS]
                + [dt.datetime.now().isoformat(timespec="seconds")])
            con.commit()
            rid = cur.lastrowid
        finally:
            con.close()
        self.clear()
        self.status.set(f"Saved: {v['full_name']} (#{rid})")

    def clear(self) -> None:
        for var in self.vars.values():
            var.set(False if isinstance(var, tk.BooleanVar) else "")
        self.notes.delete("1.0", "end")
        self.status.set("Ready")
        self.truth[0][0].focus_set()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="sqlite file the intakes are stored in")
    ap.add_argument("--state", help="JSON file rewritten on every change (ground truth of every widget)")
    ap.add_argument("--geometry", default="760x600+30+20")
    ap.add_argument("--font-size", type=int, default=11)
    ap.add_argument("--font", default="DejaVu Sans Condensed", help="font family of labels and fields")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    IntakeApp(root, args.db, state=args.state, font_size=args.font_size, family=args.font)
    root.mainloop()


if __name__ == "__main__":
    main()
