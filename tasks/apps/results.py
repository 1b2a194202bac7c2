"""A results table (Tk): rows of trips, each ending in an identical "Select" button.

Why: six buttons that all say "Select" can only be told apart by the text of their row ("07:10 Oslo
Bergen 6h 50m NOK 420"), and that must survive a resized window, where every column moves. The
table's columns stretch with the window (grid weights), rows are striped like most real tables, the
filter box above it has only a grey placeholder ("Filter by city") and no label, and a ttk tick box
("Direct trains only") sits next to it.

Selecting a row shows ``Selected: 07:10 Oslo - Bergen`` and records the departure in the state file;
typing into the filter hides the rows whose cities do not contain the text. With ``--state FILE`` the
app rewrites a JSON file on every change: ``elements`` is the ground truth (class, role, name,
value, states, row text and the Tk ``winfo`` box of every widget), plus ``selected``, ``filter``,
``direct_only`` and ``status``.

    python -m tasks.apps.results [--state /tmp/results.json] [--geometry 760x460+60+60] [--font-size 10]
"""

from __future__ import annotations

import argparse
import tkinter as tk
from tkinter import ttk

from tasks.apps.state import widget_truth, window_box, write_state

TITLE = "desk-agent results"
HEADERS = ("Departure", "From", "To", "Duration", "Price")
TRIPS = (("07:10", "Oslo", "Bergen", "6h 50m", "NOK 420"), ("09:25", "Oslo", "Bergen", "7h 05m", "NOK 380"),
         ("12:40", "Oslo", "Trondheim", "6h 40m", "NOK 510"), ("15:05", "Bergen", "Oslo", "6h 55m", "NOK 420"),
         ("18:25", "Oslo", "Bergen", "7h 00m", "NOK 360"), ("21:50", "Bergen", "Stavanger", "5h 20m", "NOK 290"))
PLACEHOLDER = "Filter by city"


def row_text(trip: tuple[str, ...]) -> str:
    return " ".join(trip)


class ResultsApp:
    def __init__(self, root: tk.Tk, *, state: str | None = None, font_size: int = 10) -> None:
        self.root, self.state_path = root, state
        self._pending: str | None = None
        root.title(TITLE)
        bg, stripe = "#f4f4f4", "#e2e8f0"
        root.configure(bg=bg, padx=18, pady=12)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(2, weight=1)
        font, bold = ("DejaVu Sans", font_size), ("DejaVu Sans", font_size, "bold")
        self.selected: str | None = None
        self.buttons: dict[str, ttk.Button] = {}
        tk.Label(root, text="Search results", font=("DejaVu Sans", font_size + 6, "bold"), bg=bg).grid(
            row=0, column=0, sticky="w")
        top = tk.Frame(root, bg=bg)
        top.grid(row=1, column=0, sticky="ew", pady=(8, 10))
        self.filter = tk.StringVar()
        self.entry = tk.Entry(top, font=font, width=24, relief="solid", bd=1, fg="#8a8a8a")
        self.entry.pack(side="left", ipady=3)
        self.entry.insert(0, PLACEHOLDER)
        self.placeholder = True
        self.entry.bind("<FocusIn>", self._focus_in)
        self.entry.bind("<KeyRelease>", lambda e: self._filter_changed())
        self.direct = tk.BooleanVar()
        ttk.Style(root).configure("TCheckbutton", background=bg)
        self.check = ttk.Checkbutton(top, text="Direct trains only", variable=self.direct)
        self.check.pack(side="left", padx=(24, 0))
        self.table = tk.Frame(root, bg=bg)
        self.table.grid(row=2, column=0, sticky="nsew")
        for c in range(len(HEADERS)):
            self.table.columnconfigure(c, weight=1)
        for c, h in enumerate(HEADERS):
            tk.Label(self.table, text=h, font=bold, bg=bg, anchor="w", padx=6).grid(row=0, column=c, sticky="ew",
                                                                                 pady=(0, 4))
        self.rows: list[tuple[tuple[str, ...], list[tk.Widget]]] = []
        for i, trip in enumerate(TRIPS):
            colour = stripe if i % 2 == 0 else bg
            cells: list[tk.Widget] = []
            for c, text in enumerate(trip):
                lab = tk.Label(self.table, text=text, font=font, bg=colour, anchor="w", padx=6, pady=6)
                cells.append(lab)
            holder = tk.Frame(self.table, bg=colour)
            b = ttk.Button(holder, text="Select", command=lambda t=trip: self.select(t))
            b.pack(padx=6, pady=2)
            cells.append(holder)
            self.buttons[trip[0]] = b
            self.rows.append((trip, cells))
        self.status = tk.StringVar(value="Nothing selected")
        tk.Label(root, textvariable=self.status, font=font, bg=bg, anchor="w").grid(row=3, column=0, sticky="w",
                                                                                    pady=(10, 0))
        self._layout_rows()
        if state:
            for var in (self.status, self.direct):
                var.trace_add("write", lambda *_: self.write_state())
            # any widget moving (a resize reflows every column) rewrites the state once things settle
            root.bind_all("<Configure>", lambda e: self._soon(), add="+")
            root.bind_all("<Map>", lambda e: root.after(20, self.write_state), add="+")  # widgets drawn
            root.after(80, self.write_state)

    # behaviour -------------------------------------------------------------------------------------
    def _focus_in(self, _e=None) -> None:
        if self.placeholder:
            self.entry.delete(0, "end")
            self.entry.configure(fg="#111111")
            self.placeholder = False
            self.write_state()

    def _filter_changed(self) -> None:
        self._layout_rows()
        self.write_state()

    def filter_text(self) -> str:
        return "" if self.placeholder else self.entry.get().strip()

    def _layout_rows(self) -> None:
        want = self.filter_text().lower()
        r = 1
        for trip, cells in self.rows:
            show = not want or want in trip[1].lower() or want in trip[2].lower()
            for c, w in enumerate(cells):
                if show:
                    w.grid(row=r, column=c, sticky="nsew")
                else:
                    w.grid_remove()
            r += show
        self.root.after(30, self.write_state)

    def select(self, trip: tuple[str, ...]) -> None:
        self.selected = trip[0]
        self.status.set(f"Selected: {trip[0]} {trip[1]} - {trip[2]}")

    # state -----------------------------------------------------------------------------------------
    def elements(self) -> list[dict]:
        # the filter's only label is its placeholder: once that is gone (focus), nothing names it on screen
        out = [widget_truth(self.entry, "filter", PLACEHOLDER if self.placeholder else "", value=self.filter_text()),
               widget_truth(self.check, "direct", "Direct trains only", checked=bool(self.direct.get()))]
        for trip, cells in self.rows:
            b = self.buttons[trip[0]]
            if b.winfo_ismapped():
                out.append(widget_truth(b, f"select:{trip[0]}", "Select", row=row_text(trip)))
        return out

    def _soon(self) -> None:
        if self._pending is not None:
            self.root.after_cancel(self._pending)
        self._pending = self.root.after(40, self._flush)

    def _flush(self) -> None:
        self._pending = None
        self.write_state()

    def write_state(self) -> None:
        if not self.state_path:
            return
        write_state(self.state_path, {
            "window": window_box(self.root),
            "elements": self.elements(), "selected": self.selected, "filter": self.filter_text(),
            "direct_only": bool(self.direct.get()), "status": self.status.get(),
            "rows": [row_text(t) for t, cells in self.rows if cells[0].winfo_ismapped()]})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", help="JSON file rewritten on every change (ground truth of every widget)")
    ap.add_argument("--geometry", default="760x460+60+60")
    ap.add_argument("--font-size", type=int, default=10)
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    ResultsApp(root, state=args.state, font_size=args.font_size)
    root.mainloop()


if __name__ == "__main__":
    main()
