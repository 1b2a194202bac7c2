"""A small Tk app for the record/replay tests: labelled entries (one a password), a checkbox, a
slider to drag, a list to scroll and double-click, and a Save button. Its *own* state file proves
what a replay achieved; widget boxes are in screen coordinates so a simulated person can aim.

``--layout above`` is the same form redesigned: labels above their fields, the fields in another
place and another tab order (Password first), what a recording made on the default layout must
survive. ``--without name`` leaves a field out (a recording that needs it must stop cleanly);
``--save-label Store`` renames the button (what only a model can still find).

    python -m tests.record_app --state /tmp/r.json --geometry 520x440+60+40 [--layout above] [--without name]
                               [--save-label Store]
"""

from __future__ import annotations

import argparse
import tkinter as tk

from tasks.apps.state import write_state

TITLE = "desk-agent record test"
FRUITS = ["Apple", "Apricot", "Banana", "Blueberry", "Cherry", "Coconut", "Date", "Fig", "Grape", "Guava",
          "Kiwi", "Lemon", "Lime", "Lychee", "Mango", "Melon", "Nectarine", "Orange", "Papaya", "Peach",
          "Pear", "Plum", "Quince", "Raspberry"]


class RecordApp:
    def __init__(self, root: tk.Tk, state_path: str, layout: str = "left", without: tuple[str, ...] = (),
                 save_label: str = "Save") -> None:
        self.root, self.state_path = root, state_path
        self.saved: dict | None = None
        self.chosen: str | None = None
        root.title(TITLE)
        font = ("DejaVu Sans", 13)
        self.name, self.password = tk.StringVar(), tk.StringVar()
        self.name_entry = self.pw_entry = None
        fields = [("name", "Name", self.name, ""), ("password", "Password", self.password, "*")]
        if layout == "above":  # labels above, side by side, Password first (and first in the tab order)
            for k, (key, label, var, show) in enumerate(reversed(fields)):
                if key in without:
                    continue
                tk.Label(root, text=label, font=font, anchor="w").place(x=20 + 250 * k, y=10, width=200, height=26)
                entry = tk.Entry(root, textvariable=var, font=font, show=show)
                entry.place(x=20 + 250 * k, y=40, width=220, height=34)
                setattr(self, "name_entry" if key == "name" else "pw_entry", entry)
        else:
            for k, (key, label, var, show) in enumerate(fields):
                if key in without:
                    continue
                tk.Label(root, text=label, font=font, anchor="w").place(x=20, y=20 + 50 * k, width=100, height=34)
                entry = tk.Entry(root, textvariable=var, font=font, show=show)
                entry.place(x=130, y=20 + 50 * k, width=300, height=34)
                setattr(self, "name_entry" if key == "name" else "pw_entry", entry)
        self.subscribed = tk.BooleanVar()
        self.check = tk.Checkbutton(root, text="Subscribe", variable=self.subscribed, font=font,
                                    command=self.save_state)
        self.check.place(x=20, y=120, width=160, height=34)
        self.volume = tk.IntVar()
        self.scale = tk.Scale(root, from_=0, to=100, orient="horizontal", variable=self.volume, font=font,
                              showvalue=True, command=lambda _v: self.save_state())
        self.scale.place(x=20, y=165, width=300, height=60)
        self.list = tk.Listbox(root, font=font, height=5, exportselection=False)
        for f in FRUITS:
            self.list.insert("end", f)
        self.list.place(x=20, y=240, width=200, height=130)
        self.list.bind("<Double-Button-1>", self.on_choose)
        self.chosen_label = tk.Label(root, text="chosen: -", font=font, anchor="w")
        self.chosen_label.place(x=240, y=240, width=260, height=34)
        self.button = tk.Button(root, text=save_label, font=font, command=self.on_save)
        self.button.place(x=340, y=380, width=160, height=44)
        self.status = tk.Label(root, text="not saved", font=font, anchor="w")
        self.status.place(x=240, y=290, width=260, height=34)
        for v in (self.name, self.password):
            v.trace_add("write", lambda *_: self.save_state())
        root.bind("<Configure>", lambda e: self.save_state() if e.widget is root else None)
        root.after(50, self.save_state)

    def on_choose(self, _event=None) -> None:
        sel = self.list.curselection()
        self.chosen = self.list.get(sel[0]) if sel else None
        self.chosen_label.config(text=f"chosen: {self.chosen}")
        self.save_state()

    def on_save(self) -> None:
        self.saved = {"name": self.name.get(), "password": self.password.get(),
                      "subscribed": bool(self.subscribed.get()), "volume": self.volume.get(),
                      "chosen": self.chosen}
        self.status.config(text="saved")
        self.save_state()

    def box(self, w: tk.Widget | None) -> list[int]:
        if w is None:
            return [0, 0, 0, 0]
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def save_state(self) -> None:
        items = {}
        top = self.list.nearest(0)
        for i, fruit in enumerate(FRUITS):
            bbox = self.list.bbox(i)
            if bbox:
                lx, ly = self.list.winfo_rootx(), self.list.winfo_rooty()
                items[fruit] = [lx + bbox[0], ly + bbox[1], bbox[2], bbox[3]]
        state = {"saved": self.saved,
                 "values": {"name": self.name.get(), "password": self.password.get(),
                            "subscribed": bool(self.subscribed.get()), "volume": self.volume.get()}, "chosen": self.chosen, "list_top": FRUITS[top] if top >= 0 else None,
                 "window": self.box(self.root), "visible_items": items,
                 "widgets": {"name": self.box(self.name_entry), "password": self.box(self.pw_entry),
                             "subscribe": self.box(self.check), "scale": self.box(self.scale),
                             "list": self.box(self.list), "save": self.box(self.button)},
                 "slider": list(self.scale.coords()), "volume": self.volume.get(),
                 "focus": next((k for k, w in (("name", self.name_entry), ("password", self.pw_entry),
                                                ("subscribe", self.check), ("save", self.button))
                                if w is not None and self.root.focus_get() is w), None)}
        write_state(self.state_path, state)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True)
    ap.add_argument("--geometry", default="520x440+60+40")
    ap.add_argument("--layout", choices=("left", "above"), default="left", help="where the labels sit")
    ap.add_argument("--without", action="append", default=[], choices=("name", "password"), help="leave a field out")
    ap.add_argument("--save-label", default="Save", help="the caption of the Save button (renamed: a step to heal)")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    app = RecordApp(root, args.state, args.layout, tuple(args.without), args.save_label)
    root.bind_all("<FocusIn>", lambda e: app.root.after(10, app.save_state), add="+")
    root.bind_all("<MouseWheel>", lambda e: app.root.after(30, app.save_state), add="+")
    root.bind_all("<Button-4>", lambda e: app.root.after(30, app.save_state), add="+")
    root.bind_all("<Button-5>", lambda e: app.root.after(30, app.save_state), add="+")
    root.mainloop()


if __name__ == "__main__":
    main()
