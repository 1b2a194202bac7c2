"""A Tk contact form whose fields all show their text (no password masking): Email, Last name, Phone
and Save. A secret typed into Email is therefore *visible* on screen, which is what the secret canary
tests need: the recorder, replay and their reports must keep it out of every file and every saved
picture by masking, not because the toolkit hid it.

``--prefilled`` is the same form as a returning customer sees it: Email and Last name are already
known and shown as plain text, not fields, and Phone sits where Email's field was (and has the
focus). A replay that clicked the old spot, or typed where the focus is, would put the recorded email
into Phone — the replay must notice that Email is not there and stop instead.

    python -m tests.secret_form_app --state /tmp/s.json --geometry 520x300+80+60 [--prefilled]
"""

from __future__ import annotations

import argparse
import tkinter as tk

from tasks.apps.state import write_state

TITLE = "desk-agent secret form"
KNOWN = {"email": "known@example.org", "last_name": "Smith"}


class SecretForm:
    def __init__(self, root: tk.Tk, state_path: str, prefilled: bool) -> None:
        self.root, self.state_path, self.prefilled = root, state_path, prefilled
        self.saved: dict | None = None
        root.title(TITLE)
        font = ("DejaVu Sans", 14)
        self.vars = {k: tk.StringVar() for k in ("email", "last_name", "phone")}
        self.entries: dict[str, tk.Entry] = {}
        labels = {"email": "Email", "last_name": "Last name", "phone": "Phone"}
        keys = ["phone"] if prefilled else ["email", "last_name", "phone"]
        for k, key in enumerate(keys):
            tk.Label(root, text=labels[key], font=font, anchor="w").place(x=20, y=20 + 56 * k, width=120, height=36)
            e = tk.Entry(root, textvariable=self.vars[key], font=font)
            e.place(x=150, y=20 + 56 * k, width=340, height=36)
            self.entries[key] = e
        if prefilled:
            for key, value in KNOWN.items():
                self.vars[key].set(value)
            tk.Label(root, text=f"Signed in as {KNOWN['email']} ({KNOWN['last_name']})", font=font,
                     anchor="w").place(x=20, y=90, width=480, height=36)
            root.after(100, self.entries["phone"].focus_set)
        self.button = tk.Button(root, text="Save", font=font, command=self.on_save)
        self.button.place(x=340, y=200, width=150, height=44)
        for v in self.vars.values():
            v.trace_add("write", lambda *_: self.save_state())
        root.bind("<Configure>", lambda e: self.save_state() if e.widget is root else None)
        root.after(50, self.save_state)

    def on_save(self) -> None:
        self.saved = {k: v.get() for k, v in self.vars.items()}
        self.save_state()

    def box(self, w: tk.Widget | None) -> list[int]:
        if w is None:
            return [0, 0, 0, 0]
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def save_state(self) -> None:
        write_state(self.state_path, {
            "saved": self.saved, "values": {k: v.get() for k, v in self.vars.items()},
            "window": self.box(self.root),
            "widgets": {**{k: self.box(self.entries.get(k)) for k in self.vars}, "save": self.box(self.button)}})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True)
    ap.add_argument("--geometry", default="520x300+80+60")
    ap.add_argument("--prefilled", action="store_true", help="Email and Last name known: shown as text, not fields")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    SecretForm(root, args.state, args.prefilled)
    root.mainloop()


if __name__ == "__main__":
    main()
