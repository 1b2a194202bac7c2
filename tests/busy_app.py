"""A Tk app whose screen changes on every action, for the recorder's "before frame" tests.

Every mouse press and key press is one action: it bumps a counter ``n``, paints the state swatch in a
colour that encodes ``n`` exactly (``state_colour``), and re-orders an autocomplete-like list of
suggestions (row ``k`` shows ``SUGGESTIONS[(k + n) % 5]``, each in its own colour), so a screenshot
says without OCR which state it shows and which suggestion lies under a point. The state file holds
the counter, where every suggestion is now, what was clicked, and when (``time.monotonic``) each
action arrived and each state was painted.

    python -m tests.busy_app --state /tmp/b.json --geometry 560x420+90+70
"""

from __future__ import annotations

import argparse
import time
import tkinter as tk

from tasks.apps.state import write_state

TITLE = "desk-agent busy test"
SUGGESTIONS = ["Amsterdam", "Berlin", "Cairo", "Dublin", "Edinburgh", "Florence", "Geneva"]
ROW_COLOURS = {"Amsterdam": (214, 64, 64), "Berlin": (64, 160, 72), "Cairo": (60, 90, 210),
               "Dublin": (200, 150, 20), "Edinburgh": (150, 70, 190), "Florence": (20, 140, 150),
               "Geneva": (120, 100, 60)}
#: What a suggestion says: a real list has lines of text the recorder's OCR has to read.
DETAILS = {"Amsterdam": "North Holland, Netherlands · 921,402", "Berlin": "Berlin, Germany · 3,645,000",
           "Cairo": "Cairo Governorate, Egypt · 9,540,000", "Dublin": "Leinster, Ireland · 592,713",
           "Edinburgh": "Lothian, Scotland · 506,520", "Florence": "Tuscany, Italy · 382,258",
           "Geneva": "Canton of Geneva, Switzerland · 203,856"}


def state_colour(n: int) -> tuple[int, int, int]:
    """A colour per state; distinct for n < 256 (the red channel alone is, 37 being odd)."""
    return (n * 37 + 11) % 256, (n * 71 + 140) % 256, (n * 113 + 60) % 256


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % rgb


class BusyApp:
    def __init__(self, root: tk.Tk, state_path: str) -> None:
        self.root, self.state_path = root, state_path
        self.n = 0
        self.clicked: list[str | None] = []
        self.action_t: list[float] = []
        self.painted_t: list[float] = []
        root.title(TITLE)
        font = ("DejaVu Sans", 12)
        self.swatch = tk.Frame(root, bg=hex_colour(state_colour(0)))
        self.swatch.place(x=24, y=16, width=150, height=56)
        self.count = tk.Label(root, text="actions: 0", font=font, anchor="w")
        self.count.place(x=190, y=16, width=150, height=26)
        self.entry = tk.Entry(root, font=font)
        self.entry.place(x=190, y=44, width=330, height=30)
        self.rows: list[tuple[tk.Frame, tk.Label]] = []
        for k in range(len(SUGGESTIONS)):
            row = tk.Frame(root)
            row.place(x=24, y=96 + k * 40, width=496, height=36)
            label = tk.Label(row, font=font, anchor="w", fg="white")
            label.place(x=6, y=4, width=484, height=28)
            self.rows.append((row, label))
        self.paint()
        root.bind_all("<ButtonPress>", self.on_action, add="+")
        root.bind_all("<KeyPress>", self.on_action, add="+")
        root.bind("<Configure>", lambda e: self.save() if e.widget is root else None)

    def order(self) -> list[str]:
        return [SUGGESTIONS[(k + self.n) % len(SUGGESTIONS)] for k in range(len(SUGGESTIONS))]

    def row_boxes(self) -> dict[str, list[int]]:
        return {name: [row.winfo_rootx(), row.winfo_rooty(), row.winfo_width(), row.winfo_height()]
                for name, (row, _) in zip(self.order(), self.rows)}

    def on_action(self, event) -> None:
        self.action_t.append(time.monotonic())
        if event.type == tk.EventType.ButtonPress:
            hit = None
            for name, (x, y, w, h) in self.row_boxes().items():
                if x <= event.x_root < x + w and y <= event.y_root < y + h:
                    hit = name
            self.clicked.append(hit)
        self.n += 1
        self.paint()

    def paint(self) -> None:
        self.swatch.config(bg=hex_colour(state_colour(self.n)))
        self.count.config(text=f"actions: {self.n}")
        for name, (row, label) in zip(self.order(), self.rows):
            colour = hex_colour(ROW_COLOURS[name])
            row.config(bg=colour)
            label.config(text=f"{name} — {DETAILS[name]}", bg=colour)
        self.root.update_idletasks()
        self.painted_t.append(time.monotonic())
        self.save()

    def save(self) -> None:
        s = self.swatch
        write_state(self.state_path, {
            "n": self.n, "rows": self.row_boxes(), "clicked": self.clicked, "action_t": self.action_t,
            "painted_t": self.painted_t, "swatch": [s.winfo_rootx(), s.winfo_rooty(), s.winfo_width(), s.winfo_height()],
            "entry": [self.entry.winfo_rootx(), self.entry.winfo_rooty(), self.entry.winfo_width(),
                      self.entry.winfo_height()],
            "window": [self.root.winfo_rootx(), self.root.winfo_rooty()]})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True)
    ap.add_argument("--geometry", default="560x420+90+70")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    BusyApp(root, args.state)
    root.mainloop()


if __name__ == "__main__":
    main()
