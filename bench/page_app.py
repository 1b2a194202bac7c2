"""A screen-filling Tk window that looks like a busy web page, for the speed benchmarks.

An empty desktop makes every image cheap to compress and to compare; a real screen is full of text,
lines and colours. This window covers the whole screen with a header, a sidebar of links, a table of
25 rows x 5 columns of text and a "Next page" button. Clicking the button shows the next page of the
table (every row changes: a real change, as following a link is); the state file holds the page
number and the button's box in screen coordinates.

    python bench/page_app.py --state /tmp/p.json --size 1280x800
"""

from __future__ import annotations

import argparse
import sys
import tkinter as tk
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.apps.state import write_state  # noqa: E402

TITLE = "desk-agent bench page"
ROWS, COLS = 25, 5
WORDS = ("Amsterdam Berlin Cairo Dublin Edinburgh Florence Geneva Helsinki Istanbul Jakarta Kyoto Lisbon Madrid "
         "Nairobi Oslo Prague Quito Riga Seoul Tallinn Utrecht Vienna Warsaw Xiamen York Zurich").split()


class PageApp:
    def __init__(self, root: tk.Tk, state: str, w: int, h: int) -> None:
        self.root, self.state, self.page = root, state, 0
        root.title(TITLE)
        root.geometry(f"{w}x{h}+0+0")
        c = self.canvas = tk.Canvas(root, width=w, height=h, bg="white", highlightthickness=0)
        c.place(x=0, y=0)
        c.create_rectangle(0, 0, w, 56, fill="#1f4e8c", outline="")
        c.create_text(24, 28, text="Rail&Go  ·  Timetables  ·  Offers  ·  Help", fill="white", anchor="w",
                      font=("DejaVu Sans", 16, "bold"))
        c.create_rectangle(0, 56, 220, h, fill="#eef1f5", outline="")
        for i in range(min(30, (h - 80) // 24)):
            c.create_text(20, 80 + i * 24, text=f"{WORDS[i % len(WORDS)]} connections", anchor="w",
                          fill="#1f4e8c", font=("DejaVu Sans", 11))
        self.left, self.top = 240, 110
        self.col_w = (w - self.left - 30) // COLS
        self.row_h = max(18, (h - self.top - 90) // ROWS)
        c.create_text(self.left, 80, text="Departures from Amsterdam Centraal", anchor="w",
                      font=("DejaVu Sans", 15, "bold"))
        for r in range(ROWS + 1):
            y = self.top + r * self.row_h
            c.create_line(self.left, y, self.left + COLS * self.col_w, y, fill="#c8ced6")
        self.cells: list[int] = []
        for r in range(ROWS):
            for k in range(COLS):
                self.cells.append(c.create_text(self.left + k * self.col_w + 8, self.top + r * self.row_h
                                                + self.row_h // 2, anchor="w", font=("DejaVu Sans", 10)))
        self.button = tk.Button(root, text="Next page", font=("DejaVu Sans", 12), command=self.next)
        by = self.top + ROWS * self.row_h + 20
        self.button.place(x=self.left, y=by, width=140, height=36)
        self.fill()
        root.after(100, self.save)

    def fill(self) -> None:
        for i, item in enumerate(self.cells):
            r, k = divmod(i, COLS)
            n = self.page * ROWS + r
            text = (f"{n:04d}", f"{8 + n % 14:02d}:{(n * 7) % 60:02d}", WORDS[(n * 3 + k) % len(WORDS)],
                    f"platform {1 + n % 12}", f"€ {12 + (n * 13) % 80}.{n % 10}0")[k]
            self.canvas.itemconfigure(item, text=text, fill=("#202020", "#8c1f1f")[(n + k) % 7 == 0])

    def next(self) -> None:
        self.page += 1
        self.fill()
        self.save()

    def save(self) -> None:
        b = self.button
        write_state(self.state, {"page": self.page,
                                 "button": [b.winfo_rootx(), b.winfo_rooty(), b.winfo_width(), b.winfo_height()]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True)
    ap.add_argument("--size", default="1280x800")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    root = tk.Tk()
    PageApp(root, args.state, w, h)
    root.mainloop()


if __name__ == "__main__":
    main()
