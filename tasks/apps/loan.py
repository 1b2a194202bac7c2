"""An equipment loan form (Tk + sqlite): the held-out app for ``agent fill``.

Why it exists: fill was developed against the intake form (labels above fields) and the sample form
(one column, labels left). A form filler that passes only on the layouts it was built on proves
little, so this one is laid out differently on purpose and was not looked at while fill was tuned:
two columns of right-aligned labels *left* of their fields, a read-only combobox of 40 departments in
the middle of the left column, two spinboxes in the right one, the status line at the top, the radio
group inside a titled frame (its title, not a caption, names the group), tick boxes beside it, a
short multi-line "Purpose" box with its label to the left, and the buttons at the bottom right in the
other order ("Reset", then "Register loan"). The window size and font size are options, so a test can
run it resized.

"Register loan" validates, stores one row in sqlite and clears the form (``Registered: NAME (#ID)``);
a rejected loan shows ``Error: ...`` and keeps the input. With ``--state FILE`` it rewrites a JSON file
on every change, ``elements`` being the ground truth of every widget (``tasks.apps.state.widget_truth``)
that ``bench/elements.py`` measures the visual source against — written after the source was tuned,
so the form stays held out.

    python -m tasks.apps.loan --db /tmp/loans.sqlite [--state /tmp/loan.json] [--geometry 980x620+60+40]
        [--font-size 10] [--exit-with-parent]
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

from tasks.apps.state import open_store, read_rows, publish_on_change, widget_truth, window_box, write_state

TITLE = "desk-agent equipment loan"
DEPARTMENTS = ("Accounting", "Administration", "Anatomy", "Archaeology", "Architecture", "Astronomy",
               "Biochemistry", "Biology", "Chemistry", "Civil Engineering", "Classics", "Computer Science",
               "Dentistry", "Economics", "Education", "Electrical Engineering", "English", "Facilities", "Finance",
               "Geography", "Geology", "History", "Human Resources", "Law", "Library", "Linguistics", "Mathematics",
               "Mechanical Engineering", "Medicine", "Music", "Nursing", "Pharmacy", "Philosophy", "Physics",
               "Psychology", "Public Health", "Sociology", "Statistics", "Theatre", "Zoology")
CONDITIONS = ("New", "Good", "Worn")
EXTRAS = (("charger", "Charger included"), ("case", "Carry case"), ("insured", "Insured"))
COLUMNS = ("borrower", "staff_id", "department", "phone", "item", "quantity", "days", "return_by", "condition",
           "charger", "case_", "insured", "purpose")
SCHEMA = """CREATE TABLE IF NOT EXISTS loans (
    id INTEGER PRIMARY KEY AUTOINCREMENT, borrower TEXT NOT NULL, staff_id TEXT NOT NULL, department TEXT NOT NULL,
    phone TEXT NOT NULL, item TEXT NOT NULL, quantity TEXT NOT NULL, days TEXT NOT NULL, return_by TEXT NOT NULL,
    condition TEXT NOT NULL, charger INTEGER NOT NULL, case_ INTEGER NOT NULL, insured INTEGER NOT NULL,
    purpose TEXT NOT NULL, created TEXT NOT NULL)"""


def open_db(path: str | Path) -> sqlite3.Connection:
    return open_store(path, SCHEMA)


def read_loans(path: str | Path) -> list[dict]:
    """Every stored loan as a dict (what tests judge a fill by)."""
    return read_rows(path, SCHEMA, "loans")


def validate(v: dict) -> str | None:
    if not v["borrower"]:
        return "enter the borrower"
    if not re.fullmatch(r"[A-Z]{2}\d{4}", v["staff_id"]):
        return "a staff ID is two capitals and four digits"
    if v["department"] not in DEPARTMENTS:
        return "choose a department"
    if not v["item"]:
        return "enter the item"
    for key, label, lo, hi in (("quantity", "Quantity", 1, 10), ("days", "Loan days", 1, 60)):
        if not (v[key].isdigit() and lo <= int(v[key]) <= hi):
            return f"{label} must be a number from {lo} to {hi}"
    try:
        dt.date.fromisoformat(v["return_by"])
    except ValueError:
        return "Return by is a date as YYYY-MM-DD"
    if v["condition"] not in CONDITIONS:
        return "choose the condition"
    return None


class LoanApp:
    def __init__(self, root: tk.Tk, db: str, *, font_size: int = 10, state: str | None = None) -> None:
        self.root, self.db, self.state_path = root, db, state
        self.truth: list[tuple[tk.Widget, str, str, dict]] = []  # widget, key, name, extra
        open_db(db).close()
        root.title(TITLE)
        bg = "#f3f1ec"
        root.configure(bg=bg, padx=26, pady=18)
        font = ("DejaVu Sans", font_size)
        root.option_add("*TCombobox*Listbox.font", font)
        self.vars: dict[str, tk.Variable] = {}
        tk.Label(root, text="Equipment loan", font=("DejaVu Sans", font_size + 6, "bold"), bg=bg).grid(
            row=0, column=0, columnspan=4, sticky="w")
        self.status = tk.StringVar(value="Fill in the loan, then register it")
        tk.Label(root, textvariable=self.status, font=font, bg=bg, fg="#3a4a6a").grid(
            row=1, column=0, columnspan=4, sticky="w", pady=(2, 14))

        def label(text: str, row: int, col: int) -> None:
            tk.Label(root, text=text, font=font, bg=bg, anchor="e").grid(row=row, column=col, sticky="e",
                                                                         padx=(0 if col == 0 else 30, 8), pady=5)

        def entry(key: str, name: str, row: int, col: int, width: int = 24) -> None:
            self.vars[key] = tk.StringVar()
            e = tk.Entry(root, textvariable=self.vars[key], font=font, width=width, relief="solid", bd=1)
            e.grid(row=row, column=col, sticky="w", pady=5)
            self.truth.append((e, key, name, {}))

        def spin(key: str, name: str, row: int, col: int, lo: int, hi: int) -> None:
            self.vars[key] = tk.StringVar()
            sp = ttk.Spinbox(root, from_=lo, to=hi, textvariable=self.vars[key], width=6, font=font)
            sp.grid(row=row, column=col, sticky="w", pady=5)
            self.truth.append((sp, key, name, {}))

        label("Borrower", 2, 0)
        entry("borrower", "Borrower", 2, 1)
        label("Item", 2, 2)
        entry("item", "Item", 2, 3)
        label("Staff ID", 3, 0)
        entry("staff_id", "Staff ID", 3, 1, 12)
        label("Quantity", 3, 2)
        spin("quantity", "Quantity", 3, 3, 1, 10)
        label("Department", 4, 0)
        self.vars["department"] = tk.StringVar()
        combo = ttk.Combobox(root, textvariable=self.vars["department"], values=DEPARTMENTS, state="readonly",
                             font=font, width=22)
        combo.grid(row=4, column=1, sticky="w", pady=5)
        self.truth.append((combo, "department", "Department", {}))
        label("Loan days", 4, 2)
        spin("days", "Loan days", 4, 3, 1, 60)
        label("Contact phone", 5, 0)
        entry("phone", "Contact phone", 5, 1, 18)
        label("Return by", 5, 2)
        entry("return_by", "Return by", 5, 3, 12)
        # the radio group is a titled frame; the tick boxes stand beside it
        frame = tk.LabelFrame(root, text="Condition", font=font, bg=bg, padx=10, pady=6)
        frame.grid(row=6, column=0, columnspan=2, sticky="w", pady=(14, 6))
        self.vars["condition"] = tk.StringVar(value="")
        for text in CONDITIONS:
            rb = tk.Radiobutton(frame, text=text, value=text, variable=self.vars["condition"], font=font, bg=bg,
                                activebackground=bg, highlightthickness=0, tristatevalue="<none>")
            rb.pack(side="left", padx=(0, 16))
            self.truth.append((rb, f"condition:{text}", text, {"group": "Condition", "radio": text}))
        extras = tk.Frame(root, bg=bg)
        extras.grid(row=6, column=2, columnspan=2, sticky="w", padx=(30, 0), pady=(14, 6))
        for key, text in EXTRAS:
            self.vars[key] = tk.BooleanVar()
            cb = tk.Checkbutton(extras, text=text, variable=self.vars[key], font=font, bg=bg, activebackground=bg,
                                highlightthickness=0)
            cb.pack(anchor="w")
            self.truth.append((cb, key, text, {"check": key}))
        label("Purpose", 7, 0)
        self.purpose = tk.Text(root, width=56, height=4, font=font, relief="solid", bd=1, wrap="word")
        self.purpose.grid(row=7, column=1, columnspan=3, sticky="w", pady=(10, 0))
        self.truth.append((self.purpose, "purpose", "Purpose", {}))
        buttons = tk.Frame(root, bg=bg)
        buttons.grid(row=8, column=0, columnspan=4, sticky="e", pady=(18, 0))
        for key, text, cmd, extra in (("reset", "Reset", self.clear, {}),
                                      ("register", "Register loan", self.register, {"bg": "#dfe6f2"})):
            b = tk.Button(buttons, text=text, font=font, command=cmd, padx=10, **extra)
            b.pack(side="left", padx=(0, 10) if key == "reset" else 0)
            self.truth.append((b, key, text, {}))
        if state:
            publish_on_change(root, (*self.vars.values(), self.status), self.write_state, text=self.purpose)

    def elements(self) -> list[dict]:
        """Every widget as the app knows it (``tasks.apps.state.widget_truth``)."""
        v, out = self.values(), []
        for w, key, name, extra in self.truth:
            value, checked = (v.get(key if key != "case" else "case_"), None)
            if "radio" in extra:
                value, checked = None, v["condition"] == extra["radio"]
            elif "check" in extra:
                value, checked = None, value
            elif key in ("reset", "register"):
                value = None
            out.append(widget_truth(w, key, name, value=value, group=extra.get("group"), checked=checked))
        return out

    def write_state(self) -> None:
        if not self.state_path:
            return
        write_state(self.state_path, {
            "window": window_box(self.root),
            "elements": self.elements(), "values": self.values(), "status": self.status.get(),
            "submissions": len(read_loans(self.db))})

    def values(self) -> dict:
        v = {k: (var.get().strip() if isinstance(var, tk.StringVar) else bool(var.get())) for k, var in self.vars.items()}
        v["purpose"] = self.purpose.get("1.0", "end-1c")
        v["case_"] = v.pop("case")
        return v

    def register(self) -> None:
        v = self.values()
        problem = validate(v)
        if problem:
            self.status.set(f"Error: {problem}")
            return
        con = open_db(self.db)
        try:
            cur = con.execute(
                f"INSERT INTO loans ({', '.join(COLUMNS)}, created) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                [int(v[c]) if isinstance(v[c], bool) else v[c] for c in COLUMNS]
                + [dt.datetime.now().isoformat(timespec="seconds")])
            con.commit()
            rid = cur.lastrowid
        finally:
            con.close()
        self.clear()
        self.status.set(f"Registered: {v['borrower']} (#{rid})")

    def clear(self) -> None:
        for var in self.vars.values():
            var.set(False if isinstance(var, tk.BooleanVar) else "")
        self.purpose.delete("1.0", "end")
        self.status.set("Fill in the loan, then register it")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="sqlite file the loans are stored in")
    ap.add_argument("--state", help="JSON file rewritten on every change (ground truth of every widget)")
    ap.add_argument("--geometry", default="980x620+60+40")
    ap.add_argument("--font-size", type=int, default=10)
    ap.add_argument("--exit-with-parent", action="store_true", help="close when the starting process dies")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    LoanApp(root, args.db, font_size=args.font_size, state=args.state)
    if args.exit_with_parent:
        parent = os.getppid()

        def check() -> None:
            if os.getppid() != parent:
                root.destroy()
            else:
                root.after(250, check)

        root.after(250, check)
    root.mainloop()


if __name__ == "__main__":
    main()
