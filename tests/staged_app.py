"""A Tk app that answers a click late and draws its answer in stages, for the settle tests.

* **Go** (a flat canvas: no hover or pressed look, so the click itself changes nothing): each click
  starts round ``n``; after ``--delays`` ms (the i-th click uses the i-th delay, cycling) the page is
  drawn in three stages a little apart: the top band, then the bottom band, then a marker square,
  each in a colour that encodes ``n`` (``colours``). A frame shows the round's answer completely only
  when all three are there. With ``--wipe-ms``, the page is first wiped blank and stays blank that long
  (an app building its next page), as Tk apps do.
* a focused entry whose 1x19 px caret blinks (``--blink`` ms on, as long off) and, with ``--spinner``,
  a 24 px arc turning every 30 ms: the screen is never still.
* with ``--shift-file PATH``: once that file exists the layout shifts by itself: a banner appears on
  top, Go moves down and a **Stop** area takes Go's old place (for the "screen changed while the model
  was thinking" test: a click on the old picture's Go lands on Stop).

The state file holds every box (screen coordinates), the clicks, the rounds and when each stage was
drawn (``time.monotonic``).

    python -m tests.staged_app --state /tmp/s.json --delays 0,100,500 --spinner
"""

from __future__ import annotations

import argparse
import os
import time
import tkinter as tk

from tasks.apps.state import write_state

TITLE = "desk-agent staged test"
GEOMETRY = "660x420+120+100"
STAGE_GAP_S = 0.02  # between the stages of one answer: well inside a settle's quiet window


def colours(n: int) -> tuple[str, str, str]:
    """The three stages' colours of round ``n`` (distinct per round for n < 64)."""
    return (f"#{(40 + 3 * n) % 256:02x}60c0", f"#c0{(50 + 3 * n) % 256:02x}40", f"#30a0{(60 + 3 * n) % 256:02x}")


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class StagedApp:
    def __init__(self, root: tk.Tk, args: argparse.Namespace) -> None:
        self.root, self.args = root, args
        self.delays = [int(d) for d in args.delays.split(",")]
        self.n = 0
        self.clicks = {"go": 0, "stop": 0}
        self.drawn: list[dict] = []
        self.shifted = False
        root.title(TITLE)
        root.geometry(GEOMETRY)
        font = ("DejaVu Sans", 12)
        self.go = tk.Canvas(root, width=160, height=44, bg="#dde3ea", highlightthickness=0)
        self.go.create_text(80, 22, text="Go", font=font)
        self.go.place(x=20, y=20)
        self.go.bind("<Button-1>", lambda e: self.click("go"))
        self.stop = tk.Canvas(root, width=160, height=44, bg="#f0d0d0", highlightthickness=0)
        self.stop.create_text(80, 22, text="Stop", font=font)
        self.stop.bind("<Button-1>", lambda e: self.click("stop"))
        self.entry = tk.Entry(root, font=font, insertwidth=1, insertontime=args.blink, insertofftime=args.blink)
        self.entry.place(x=220, y=26, width=240, height=32)
        self.page = tk.Canvas(root, width=620, height=240, bg="white", highlightthickness=0)
        self.page.place(x=20, y=150)
        self.spinner = None
        if args.spinner:
            self.spinner = tk.Canvas(root, width=24, height=24, highlightthickness=0)
            self.spinner.place(x=600, y=30)
            self.arc = self.spinner.create_arc(2, 2, 22, 22, start=0, extent=90, style="arc", width=3)
            self.angle = 0
            root.after(30, self.spin)
        if args.shift_file:
            root.after(30, self.watch)
        root.after(50, self.ready)

    def ready(self) -> None:
        self.entry.focus_force()
        self.save()

    def spin(self) -> None:
        self.angle = (self.angle + 30) % 360
        self.spinner.itemconfigure(self.arc, start=self.angle)
        self.root.after(30, self.spin)

    def watch(self) -> None:
        if not self.shifted and os.path.exists(self.args.shift_file):
            self.shifted = True
            tk.Label(self.root, text="New: a banner pushed everything down", bg="#ffe08a",
                     font=("DejaVu Sans", 12)).place(x=0, y=0, width=660, height=60)
            self.go.place(x=20, y=80)
            self.stop.place(x=20, y=20)
            tk.Misc.lift(self.stop)  # above the banner (Canvas.lift raises canvas items)
            self.root.update_idletasks()
            self.save()
        self.root.after(30, self.watch)

    def click(self, which: str) -> None:
        self.clicks[which] += 1
        if which == "go":
            self.n += 1
            n = self.n
            self.root.after(self.delays[(n - 1) % len(self.delays)], lambda: self.draw(n))
        self.save()

    def draw(self, n: int) -> None:
        c = colours(n)
        times = []
        self.page.delete("all")
        if self.args.wipe_ms:
            self.root.update_idletasks()
            time.sleep(self.args.wipe_ms / 1000)
        self.page.create_rectangle(0, 0, 620, 110, fill=c[0], outline="")
        self.root.update_idletasks()
        times.append(time.monotonic())
        time.sleep(STAGE_GAP_S)
        self.page.create_rectangle(0, 130, 620, 240, fill=c[1], outline="")
        self.root.update_idletasks()
        times.append(time.monotonic())
        time.sleep(STAGE_GAP_S)
        self.page.create_rectangle(540, 40, 600, 200, fill=c[2], outline="")
        self.root.update_idletasks()
        times.append(time.monotonic())
        self.drawn.append({"n": n, "stages": times})
        self.save()

    def box(self, w: tk.Widget) -> list[int]:
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def save(self) -> None:
        boxes = {"go": self.box(self.go), "page": self.box(self.page), "entry": self.box(self.entry)}
        if self.shifted:
            boxes["stop"] = self.box(self.stop)
        if self.spinner is not None:
            boxes["spinner"] = self.box(self.spinner)
        write_state(self.args.state, {"n": self.n, "clicks": self.clicks, "drawn": self.drawn[-20:],
                                      "shifted": self.shifted, "boxes": boxes,
                                      "focused": self.root.focus_get() is self.entry})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True)
    ap.add_argument("--delays", default="0", help="ms from a click on Go to its answer, per click, cycling")
    ap.add_argument("--blink", type=int, default=500, help="caret on (and off) time, ms")
    ap.add_argument("--spinner", action="store_true")
    ap.add_argument("--shift-file")
    ap.add_argument("--wipe-ms", type=int, default=0, help="how long the page stays blank before an answer")
    args = ap.parse_args()
    root = tk.Tk()
    StagedApp(root, args)
    root.mainloop()


if __name__ == "__main__":
    main()
