"""A tiny Tk app with a button, a text entry and a checkbox whose *own* state proves what input landed.

Used by the executor's end-to-end tests and as a playground (``python -m tasks.apps.widgets``). Every
change (a click, a keystroke, a toggle) rewrites a JSON state file atomically, including each widget's
box in screen coordinates, so a test can click a widget by where the window really put it and then
check the window's state, not the agent's claim.

    python -m tasks.apps.widgets --state /tmp/w.json --geometry 480x300+100+80
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tkinter as tk
from pathlib import Path

from tasks.apps.state import read_state, write_state

TITLE = "desk-agent widgets"


class WidgetsApp:
    def __init__(self, root: tk.Tk, state_path: str) -> None:
        self.root = root
        self.state_path = state_path
        self.clicks = 0
        self.events: list[str] = []
        root.title(TITLE)
        font = ("DejaVu Sans", 14)
        self.button = tk.Button(root, text="Click me", font=font, command=self.on_click)
        self.button.place(x=20, y=20, width=160, height=50)
        self.text = tk.StringVar()
        self.entry = tk.Entry(root, textvariable=self.text, font=font)
        self.entry.place(x=20, y=100, width=440, height=40)
        self.checked = tk.BooleanVar()
        self.check = tk.Checkbutton(root, text="Subscribe", variable=self.checked, font=font,
                                    command=self.on_toggle)
        self.check.place(x=20, y=170, width=180, height=40)
        self.label = tk.Label(root, text="clicks: 0", font=font)
        self.label.place(x=220, y=20, width=200, height=50)
        self.text.trace_add("write", lambda *_: self.save())
        root.bind("<Configure>", lambda e: self.save() if e.widget is root else None)
        root.after(50, self.save)

    def on_click(self) -> None:
        self.clicks += 1
        self.label.config(text=f"clicks: {self.clicks}")
        self.events.append("click")
        self.save()

    def on_toggle(self) -> None:
        self.events.append("toggle")
        self.save()

    def box(self, w: tk.Widget) -> list[int]:
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def save(self) -> None:
        state = {
            "clicks": self.clicks,
            "text": self.text.get(),
            "checked": bool(self.checked.get()),
            "events": self.events[-50:],
            "window": self.box(self.root),
            "widgets": {"button": self.box(self.button), "entry": self.box(self.entry),
                        "checkbox": self.box(self.check)},
        }
        write_state(self.state_path, state)


def launch(state: Path, geometry: str = "480x240+200+150", **popen) -> tuple[subprocess.Popen, dict]:
    """Start the app on the current ``$DISPLAY`` and wait until it reports its layout."""
    proc = subprocess.Popen([sys.executable, "-m", "tasks.apps.widgets", "--state", str(state),
                             "--geometry", geometry], **popen)
    try:
        return proc, read_state(state, lambda s: s.get("widgets", {}).get("button", [0, 0, 0])[2] > 1)
    except TimeoutError:
        proc.kill()
        raise


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True, help="JSON file the app rewrites on every change")
    ap.add_argument("--geometry", default="480x240+100+80")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    WidgetsApp(root, args.state)
    root.mainloop()


if __name__ == "__main__":
    main()
