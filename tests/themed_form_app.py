"""A shipping form in ttk's themes (clam, alt, default): a held-out app for the visual element source.

Written after the visual parse was done, and laid out unlike the bundled forms: right-aligned labels
ending in a colon, a titled frame of tick boxes in two columns, a titled frame of radios beside the
entries (one chosen), a sunken text box with its label above, a read-only combobox, and ttk buttons.
Each theme draws the same widgets otherwise (clam's radios are white discs with a black dot, its
titles sit above the frame). The app publishes every widget's truth (``tasks.apps.state``) to the
JSON file given, as the bundled apps do with ``--state``.

    python tests/themed_form_app.py STATE.json [--theme clam] [--geometry 900x640+40+40]
"""

from __future__ import annotations

import argparse
import sys
import tkinter as tk
from pathlib import Path
from tkinter import ttk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.apps.state import widget_truth, window_box, write_state  # noqa: E402

TITLE = "desk-agent shipping request"
SERVICES = ("Express delivery", "Signature on receipt", "Saturday delivery", "Fragile handling")
PACKAGING = ("Envelope", "Box", "Crate", "Pallet")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state")
    ap.add_argument("--theme", default="clam")
    ap.add_argument("--geometry", default="900x640+40+40")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.title(TITLE)
    root.geometry(args.geometry)
    ttk.Style(root).theme_use(args.theme)
    truth: list[tuple[tk.Widget, str, str, dict]] = []
    keep: list[tk.Variable] = []  # a variable that is garbage-collected leaves its ttk widget "alternate"
    f = ttk.Frame(root, padding=16)
    f.pack(fill="both", expand=True)
    ttk.Label(f, text="Shipping request", font=("DejaVu Sans", 15, "bold")).grid(
        row=0, column=0, columnspan=3, sticky="w", pady=(0, 12))
    for i, (key, text) in enumerate((("company", "Company name"), ("ref", "Reference"), ("city", "City"))):
        ttk.Label(f, text=text + ":").grid(row=i + 1, column=0, sticky="e", padx=(0, 6), pady=4)
        e = ttk.Entry(f, width=30)
        e.grid(row=i + 1, column=1, sticky="w")
        truth.append((e, key, text, {}))
    services = ttk.LabelFrame(f, text="Services", padding=10)
    services.grid(row=4, column=0, columnspan=2, sticky="we", pady=10)
    for i, text in enumerate(SERVICES):
        v = tk.BooleanVar(value=False)
        keep.append(v)
        c = ttk.Checkbutton(services, text=text, variable=v)
        c.grid(row=i // 2, column=i % 2, sticky="w", padx=8, pady=4)
        truth.append((c, f"service{i}", text, {"var": v}))
    packaging = ttk.LabelFrame(f, text="Packaging", padding=10)
    packaging.grid(row=1, column=2, rowspan=4, sticky="nw", padx=20)
    chosen = tk.StringVar(value="Box")
    keep.append(chosen)
    for i, text in enumerate(PACKAGING):
        r = ttk.Radiobutton(packaging, text=text, value=text, variable=chosen)
        r.grid(row=i, column=0, sticky="w", pady=3)
        truth.append((r, f"packaging{i}", text, {"group": "Packaging", "radio": text}))
    ttk.Label(f, text="Delivery instructions").grid(row=5, column=0, columnspan=2, sticky="w")
    notes = tk.Text(f, width=50, height=5, relief="sunken", bd=2)
    notes.grid(row=6, column=0, columnspan=2, sticky="w")
    truth.append((notes, "instructions", "Delivery instructions", {}))
    ttk.Label(f, text="Priority").grid(row=7, column=0, sticky="e", padx=(0, 6), pady=8)
    combo = ttk.Combobox(f, values=["Low", "Normal", "High"], state="readonly", width=12)
    combo.grid(row=7, column=1, sticky="w")
    truth.append((combo, "priority", "Priority", {}))
    buttons = ttk.Frame(f)
    buttons.grid(row=8, column=0, columnspan=2, sticky="w", pady=12)
    for key, text in (("submit", "Submit request"), ("cancel", "Cancel")):
        b = ttk.Button(buttons, text=text)
        b.pack(side="left", padx=(0, 8))
        truth.append((b, key, text, {}))

    def publish() -> None:
        elements = []
        for w, key, name, extra in truth:
            checked = extra["var"].get() if "var" in extra else (
                chosen.get() == extra["radio"] if "radio" in extra else None)
            value = None
            if isinstance(w, tk.Text):
                value = w.get("1.0", "end-1c")
            elif isinstance(w, (ttk.Entry, ttk.Combobox)):
                value = w.get()
            elements.append(widget_truth(w, key, name, value=value, group=extra.get("group"), checked=checked))
        write_state(args.state, {"window": window_box(root), "elements": elements})
        root.after(250, publish)

    root.after(100, publish)
    root.mainloop()


if __name__ == "__main__":
    main()
