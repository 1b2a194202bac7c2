"""A small Tk text editor that opens and saves files under one folder: the file-editing sandbox.

File tasks are judged by the bytes on disk after the run (the OSWorld way), so the editor does
nothing clever: a file-name entry with Open / Save / Delete file buttons, a text area, and a
Find / Replace with / Replace all row. It refuses names that leave its folder, so a task can never
write outside its sandbox.

Like the other bundled apps it rewrites a JSON state file on every change (page texts, the visible
widgets' boxes in screen coordinates, the status line, which file is open), so the oracle can ground
by geometry when no on-screen grounder is present and evaluators can read the status.

    python -m tasks.apps.editor --root /tmp/files --state /tmp/e.json [--open notes.txt]
"""

from __future__ import annotations

import argparse
import tkinter as tk
from pathlib import Path

from tasks.apps.state import widget_truth, write_state

TITLE = "desk-agent editor"


class EditorApp:
    def __init__(self, root: tk.Tk, folder: Path, state_path: str, open_name: str | None) -> None:
        self.root, self.folder, self.state_path = root, folder, state_path
        self.current: str | None = None
        self.status = "ready"
        self.deleted: list[str] = []
        font = ("DejaVu Sans", 14)
        root.title(TITLE)
        self.name = tk.StringVar()
        self.find, self.repl = tk.StringVar(), tk.StringVar()
        tk.Label(root, text="File name", font=font).place(x=20, y=20)
        self.name_entry = tk.Entry(root, textvariable=self.name, font=font)
        self.name_entry.place(x=140, y=16, width=300, height=34)
        self.open_b = tk.Button(root, text="Open", font=font, command=self.on_open)
        self.open_b.place(x=460, y=14, width=90, height=38)
        self.save_b = tk.Button(root, text="Save", font=font, command=self.on_save)
        self.save_b.place(x=560, y=14, width=90, height=38)
        self.delete_b = tk.Button(root, text="Delete file", font=font, command=self.on_delete)
        self.delete_b.place(x=660, y=14, width=140, height=38)
        self.text = tk.Text(root, font=font, undo=True)
        self.text.place(x=20, y=70, width=780, height=360)
        tk.Label(root, text="Find", font=font).place(x=20, y=450)
        self.find_entry = tk.Entry(root, textvariable=self.find, font=font)
        self.find_entry.place(x=80, y=446, width=200, height=34)
        tk.Label(root, text="Replace with", font=font).place(x=300, y=450)
        self.repl_entry = tk.Entry(root, textvariable=self.repl, font=font)
        self.repl_entry.place(x=430, y=446, width=200, height=34)
        self.replace_b = tk.Button(root, text="Replace all", font=font, command=self.on_replace)
        self.replace_b.place(x=650, y=444, width=150, height=38)
        self.status_l = tk.Label(root, text=self.status, font=font, anchor="w")
        self.status_l.place(x=20, y=500, width=780)
        for v in (self.name, self.find, self.repl):
            v.trace_add("write", lambda *_: self.save_state())
        self.text.bind("<<Modified>>", self._modified)
        root.bind("<Configure>", lambda e: self.save_state() if e.widget is root else None)
        if open_name:
            self.name.set(open_name)
            self.on_open()
        root.after(60, self.save_state)

    def _modified(self, _event=None) -> None:
        self.text.edit_modified(False)
        self.save_state()

    def path_for(self, name: str) -> Path | None:
        name = name.strip()
        p = (self.folder / name).resolve()
        if not name or self.folder.resolve() not in p.parents:
            self.set_status(f"Bad file name: {name!r}")
            return None
        return p

    def set_status(self, text: str) -> None:
        self.status = text
        self.status_l.config(text=text)
        self.save_state()

    def on_open(self) -> None:
        p = self.path_for(self.name.get())
        if p is None:
            return
        if not p.is_file():
            return self.set_status(f"File not found: {self.name.get().strip()}")
        self.text.delete("1.0", "end")
        self.text.insert("1.0", p.read_text())
        self.current = self.name.get().strip()
        self.set_status(f"Opened {self.current}")

    def on_save(self) -> None:
        p = self.path_for(self.name.get())
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.text.get("1.0", "end-1c"))
        self.current = self.name.get().strip()
        self.set_status(f"Saved {self.current}")

    def on_delete(self) -> None:
        p = self.path_for(self.name.get())
        if p is None or not p.is_file():
            return self.set_status("Nothing to delete")
        p.unlink()
        self.deleted.append(self.name.get().strip())
        self.set_status(f"Deleted {self.name.get().strip()}")

    def on_replace(self) -> None:
        old, new = self.find.get(), self.repl.get()
        if not old:
            return self.set_status("Nothing to find")
        body = self.text.get("1.0", "end-1c")
        n = body.count(old)
        self.text.delete("1.0", "end")
        self.text.insert("1.0", body.replace(old, new))
        self.set_status(f"Replaced {n}")

    def box(self, w: tk.Widget) -> list[int]:
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def save_state(self) -> None:
        widgets = {"name": self.name_entry, "open": self.open_b, "save": self.save_b, "delete": self.delete_b,
                   "text": self.text, "find": self.find_entry, "replace_with": self.repl_entry,
                   "replace_all": self.replace_b}
        names = {"name": "File name", "open": "Open", "save": "Save", "delete": "Delete file", "text": "",
                 "find": "Find", "replace_with": "Replace with", "replace_all": "Replace all"}
        values = {"name": self.name.get(), "text": self.text.get("1.0", "end-1c"), "find": self.find.get(),
                  "replace_with": self.repl.get()}
        state = {"status": self.status, "current": self.current, "deleted": self.deleted,
                 "text": self.text.get("1.0", "end-1c"), "window": self.box(self.root),
                 "widgets": {k: self.box(w) for k, w in widgets.items()},
                 # ground truth for element sources; the text area has no label a person could read
                 "elements": [widget_truth(w, k, names[k], value=values.get(k)) for k, w in widgets.items()]}
        write_state(self.state_path, state)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="folder the editor may read and write")
    ap.add_argument("--state", required=True, help="JSON file the app rewrites on every change")
    ap.add_argument("--open", help="open this file at start")
    ap.add_argument("--geometry", default="820x540+60+60")
    args = ap.parse_args(argv)
    root = tk.Tk()
    root.geometry(args.geometry)
    EditorApp(root, Path(args.root), args.state, args.open)
    root.mainloop()


if __name__ == "__main__":
    main()
