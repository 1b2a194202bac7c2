"""A Tk app whose screen never stops moving by itself, for the stagnation tests: a focused entry whose
caret blinks fast, a small busy spinner that turns continuously (``--spinner``), and two buttons,
Alpha and Beta, that count their presses and change nothing else on the screen. A run that keeps
pressing them makes no progress although no two screenshots are identical.

    python -m tests.motion_app --state /tmp/m.json --geometry 460x220+300+200 --spinner
"""

from __future__ import annotations

import argparse
import tkinter as tk

from tasks.apps.state import write_state

TITLE = "desk-agent motion test"
SPINNER = 24  # px square: the size of a toolbar throbber


class MotionApp:
    def __init__(self, root: tk.Tk, state_path: str, spinner: bool) -> None:
        self.root, self.state_path = root, state_path
        self.presses = {"alpha": 0, "beta": 0}
        root.title(TITLE)
        font = ("DejaVu Sans", 13)
        # a blinking caret: 1 px wide, one text line high, on 150 ms / off 150 ms
        self.entry = tk.Entry(root, font=font, insertwidth=1, insertontime=150, insertofftime=150)
        self.entry.place(x=20, y=20, width=300, height=34)
        self.alpha = tk.Button(root, text="Alpha", font=font, command=lambda: self.press("alpha"))
        self.alpha.place(x=20, y=90, width=120, height=40)
        self.beta = tk.Button(root, text="Beta", font=font, command=lambda: self.press("beta"))
        self.beta.place(x=170, y=90, width=120, height=40)
        self.canvas = None
        if spinner:
            self.canvas = tk.Canvas(root, width=SPINNER, height=SPINNER, highlightthickness=0)
            self.canvas.place(x=400, y=25)
            self.arc = self.canvas.create_arc(2, 2, SPINNER - 2, SPINNER - 2, start=0, extent=90,
                                              style="arc", width=3, outline="#3060c0")
            self.angle = 0
            root.after(40, self.spin)
        root.after(50, self.focus)
        root.bind("<Configure>", lambda e: self.save() if e.widget is root else None)

    def focus(self) -> None:
        self.entry.focus_force()
        self.save()

    def spin(self) -> None:
        self.angle = (self.angle + 30) % 360
        self.canvas.itemconfigure(self.arc, start=self.angle)
        self.root.after(40, self.spin)

    def press(self, which: str) -> None:
        self.presses[which] += 1
        self.save()

    def box(self, w: tk.Widget) -> list[int]:
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def save(self) -> None:
        widgets = {"entry": self.box(self.entry), "alpha": self.box(self.alpha), "beta": self.box(self.beta)}
        if self.canvas is not None:
            widgets["spinner"] = self.box(self.canvas)
        write_state(self.state_path, {"presses": self.presses, "widgets": widgets,
                                      "focused": self.root.focus_get() is self.entry})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--state", required=True)
    ap.add_argument("--geometry", default="460x220+300+200")
    ap.add_argument("--spinner", action="store_true")
    args = ap.parse_args()
    root = tk.Tk()
    root.geometry(args.geometry)
    MotionApp(root, args.state, args.spinner)
    root.mainloop()


if __name__ == "__main__":
    main()
