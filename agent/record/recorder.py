"""``agent record``: watch a person work and write a replayable trajectory as they go.

Three things make a recording worth replaying, and each is handled here:

* **The screenshot is really "before".** A screenshot taken when the click event arrives already
  shows the app reacting. The recorder captures the screen all the time (every ``interval``) and
  keeps the last few *settled* frames (identical to the one before); a step gets the newest settled
  frame captured before its first raw event, pinned when that event arrives (a long step — slow
  typing, a scroll — sees many newer frames before it is complete).
* **Steps, not events.** pynput's events go through ``StepMerger`` (clicks, drags, scrolls, typed
  strings, hotkeys); each step gets anchors for replay: a crop around the point, its OCR text when an
  OCR grounder is installed, the window under the pointer.
* **A crash loses one step at most.** Each step is appended to ``steps.jsonl`` and fsync'd as soon as
  it is complete; only the step still being merged (text being typed, a click waiting to become a
  double click) is in memory. ``kill -9`` leaves a trajectory that reads and replays up to there.

Secrets: text typed while the person marks it secret (the secret hotkey, or ``--secret FIELD`` when
the field's label is read by OCR) is written as ``{{secret:NAME}}``; the characters never reach disk.
"""

from __future__ import annotations

import queue
import dataclasses
import re
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from actions.errors import ActionValidationError
from actions.keys import normalize_key
from agent.record.anchors import crop_around, crop_boxes, window_at
from agent.record.merge import RawEvent, Semantic, StepMerger
from agent.screen.redact import SecretMasker
from agent.screen import Frame, Screen, encode, frames_differ
from agent.trajectory import TrajectoryWriter

DEFAULT_STOP = "<ctrl>+<alt>+s"
DEFAULT_SECRET = "<ctrl>+<alt>+m"  # not h: ctrl+h is backspace in Tk and terminals
_PYNPUT_NAMES = {"cmd": "win", "cmd_l": "win", "cmd_r": "win", "alt_gr": "alt", "esc": "escape",
                 "ctrl_l": "ctrl", "ctrl_r": "ctrl", "alt_l": "alt", "alt_r": "alt",
                 "shift_l": "shift", "shift_r": "shift", "page_up": "pageup", "page_down": "pagedown",
                 "caps_lock": "capslock", "num_lock": "numlock", "print_screen": "printscreen",
                 "scroll_lock": "scrolllock", "media_play_pause": "playpause"}


class RecordError(Exception):
    """The recording cannot start (no display, no input listener, a bad hotkey)."""


def key_name(name: str) -> str | None:
    """A pynput key name (``ctrl_l``, ``page_down``, ``a``) in our canonical spelling, or None."""
    name = _PYNPUT_NAMES.get(name, name)
    try:
        return normalize_key(name)
    except ActionValidationError:
        return None


def parse_hotkey(text: str) -> tuple[str, ...]:
    """``"<ctrl>+<alt>+s"`` (pynput spelling) or ``"ctrl+alt+s"`` → ``("ctrl", "alt", "s")``."""
    keys = []
    for part in text.split("+"):
        k = key_name(part.strip().strip("<>").lower())
        if k is None:
            raise RecordError(f"bad hotkey {text!r}: unknown key {part!r}")
        keys.append(k)
    return tuple(keys)


def env_name(text: str) -> str:
    """A field label as an environment variable name: ``"Pass word:"`` → ``PASS_WORD``."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return name if name and not name[0].isdigit() else f"SECRET_{name}".rstrip("_")


class _FrameHistory:
    """The last few settled frames, each with the time it was first seen (see the module docstring)."""

    def __init__(self, keep: int = 6) -> None:
        self.settled: deque[tuple[float, Frame]] = deque(maxlen=keep)
        self.prev: Frame | None = None

    def add(self, cur: Frame) -> None:
        prev, self.prev = self.prev, cur
        if prev is None or frames_differ(prev.image, cur.image):
            return
        if self.settled and not frames_differ(self.settled[-1][1].image, cur.image):
            return  # still the same settled picture; keep its first-seen time
        self.settled.append((prev.taken_at, cur))

    def before(self, t: float) -> Frame | None:
        for seen, frame in reversed(self.settled):
            if seen < t:
                return frame
        return self.prev if self.prev is not None and self.prev.taken_at < t else None


class Recorder:
    """Records until the stop hotkey (or ``request_stop``). ``ocr(image)`` returns a crop's text
    lines as ``(text, x, y, w, h)`` when given; ``secret_fields`` maps a label (case-insensitive) to
    a secret name."""

    def __init__(self, folder: str | Path, *, screen: Screen, stop_hotkey: str = DEFAULT_STOP,
                 secret_hotkey: str | None = DEFAULT_SECRET, secret_fields: dict[str, str] | None = None,
                 ocr: Callable[[Image.Image], list[tuple[str, int, int, int, int]]] | None = None, interval: float = 0.05,
                 on_step: Callable[[int, dict], None] | None = None) -> None:
        self.folder = Path(folder)
        self.screen = screen
        self.stop_keys = parse_hotkey(stop_hotkey)
        self.secret_keys = parse_hotkey(secret_hotkey) if secret_hotkey else None
        self.secret_fields = {k.lower(): v for k, v in (secret_fields or {}).items()}
        self.ocr = ocr
        self.interval = interval
        self.on_step = on_step or (lambda i, s: None)
        self.events: queue.SimpleQueue[RawEvent] = queue.SimpleQueue()
        self.frames = _FrameHistory()
        self.masker = SecretMasker()  # a secret shown in its field stays out of later screenshots
        self._stop_requested = False
        self._last_click: dict | None = None
        self._names: set[str] = set()
        self._t_prev: float | None = None
        self._listeners: list = []
        self._pins: dict[float, Frame | None] = {}

    # pynput -------------------------------------------------------------------------------------
    def _start_listeners(self) -> None:
        try:
            from pynput import keyboard, mouse
        except Exception as e:  # noqa: BLE001 - pynput's backend fails to load without a display
            raise RecordError(f"cannot listen to the mouse and keyboard: {e}") from None
        put, now = self.events.put, time.monotonic

        def on_click(x, y, button, pressed):
            put(RawEvent("press" if pressed else "release", now(), int(x), int(y), button=button.name))

        def on_scroll(x, y, dx, dy):
            put(RawEvent("scroll", now(), int(x), int(y), dx=int(dx), dy=int(dy)))

        def key_event(kind):
            def handler(key):
                if isinstance(key, keyboard.Key):
                    put(RawEvent(kind, now(), key=key_name(key.name)))
                    return
                ch = getattr(key, "char", None)
                if ch is not None and len(ch) == 1 and ord(ch) < 32:  # ctrl+a arrives as "\x01"
                    ch = chr(ord(ch) + 96)
                put(RawEvent(kind, now(), key=key_name(ch.lower()) if ch else None, char=ch))
            return handler

        ms = mouse.Listener(on_click=on_click, on_scroll=on_scroll)
        kb = keyboard.Listener(on_press=key_event("key_down"), on_release=key_event("key_up"))
        for lst in (ms, kb):
            lst.daemon = True
            lst.start()
            lst.wait()
            self._listeners.append(lst)

    def _stop_listeners(self) -> None:
        for lst in self._listeners:
            lst.stop()  # daemon threads: no join, the X RECORD thread may wait for one more event

    def request_stop(self) -> None:
        self._stop_requested = True

    # main loop ----------------------------------------------------------------------------------
    def run(self, *, ready: Callable[[], None] | None = None) -> int:
        """Record until stopped; return the number of steps written. The trajectory is sealed on the
        way out, also on Ctrl-C or SIGTERM (turned into KeyboardInterrupt by the caller)."""
        w, h = self.screen.size()
        merger = StepMerger(stop=self.stop_keys, secret=self.secret_keys)
        writer = TrajectoryWriter(self.folder, kind="record", meta={
            "screen": [w, h], "stop_hotkey": "+".join(self.stop_keys),
            "secret_hotkey": "+".join(self.secret_keys) if self.secret_keys else None})
        self.t_start = time.monotonic()
        status: dict = {"ok": True, "stopped_by": "hotkey"}
        try:
            self.frames.add(self.screen.capture())
            self._start_listeners()
            if ready:
                ready()
            while not merger.stopped and not self._stop_requested:
                t = time.monotonic()
                self.frames.add(self.screen.capture())
                while True:
                    try:
                        ev = self.events.get_nowait()
                    except queue.Empty:
                        break
                    for sem in merger.feed(ev):
                        self._write(writer, sem)
                    for t in merger.open_since():  # pin the "before" frame while the step is open
                        if t not in self._pins:
                            self._pins[t] = self.frames.before(t - 0.02)
                for sem in merger.tick(time.monotonic()):
                    self._write(writer, sem)
                time.sleep(max(0.0, self.interval - (time.monotonic() - t)))
            if self._stop_requested:
                status["stopped_by"] = "request"
        except KeyboardInterrupt:
            status["stopped_by"] = "interrupt"
        finally:
            self._stop_listeners()
            for sem in merger.flush():
                self._write(writer, sem)
            writer.close({**status, "steps": writer.steps_written})
        return writer.steps_written

    # one step -----------------------------------------------------------------------------------
    def _write(self, writer: TrajectoryWriter, sem: Semantic) -> None:
        index = writer.steps_written
        frame = self._pins.pop(sem.t0, None) or self.frames.before(sem.t0 - 0.02)
        self._pins = {t: f for t, f in self._pins.items() if t > sem.t0}
        step: dict = {"action": sem.action.to_json(), "ok": True, "thought": None}
        raw = frame
        masked: list = []
        if frame is not None:
            masked = self.masker.boxes(frame.image)
            frame = dataclasses.replace(frame, image=self.masker.apply(frame.image, frame.image))
            if masked:  # replay leaves these out when it matches crops of this screenshot
                step["masked"] = [list(b) for b in masked]
            step["screenshot"] = writer.add_image(encode(frame.image), step=index, label="before", ext="png")
            step["screen_area"] = [frame.left, frame.top, frame.width, frame.height]
            step["image_size"] = [frame.width, frame.height]
        if sem.point is not None and frame is not None:
            step["anchor"] = self._anchor(writer, index, frame, sem.point, label="crop", masked=masked)
            if sem.end_point is not None:
                step["anchor_end"] = self._anchor(writer, index, frame, sem.end_point, label="crop-end", masked=masked)
        kind = step["action"]["type"]
        if kind == "click":
            self._last_click = step.get("anchor")
        elif kind in ("press", "hotkey", "drag", "scroll"):
            self._last_click = None  # focus may have moved: the clicked field's label no longer applies
        if kind == "type":
            self._typed(step, sem)
            latest = self.frames.prev
            if "secret" in step and raw is not None and latest is not None:
                clicked = (self._last_click or {}).get("point")
                point = (clicked[0] - latest.left, clicked[1] - latest.top) if clicked else None
                self.masker.typed_secret(raw.image, latest.image, point=point)
        step["timings"] = {"person_s": round(sem.t0 - (self._t_prev if self._t_prev is not None else self.t_start), 3),
                           "duration_s": round(sem.t1 - sem.t0, 3)}
        step["t_rel"] = round(sem.t0 - self.t_start, 3)
        self._t_prev = sem.t1
        writer.append(step)
        self.on_step(index, step)

    def _anchor(self, writer: TrajectoryWriter, index: int, frame: Frame, point: tuple[int, int],
                label: str, masked: list[tuple[int, int, int, int]] = ()) -> dict:
        x, y = point
        win = window_at(x, y)
        within = None
        if win is not None:
            wl, wt, ww, wh = win["box"]
            within = (wl - frame.left, wt - frame.top, wl - frame.left + ww, wt - frame.top + wh)
        c = crop_around(frame.image, x - frame.left, y - frame.top, within=within)
        anchor = {"point": [x, y], "crop": writer.add_image(encode(c.image), step=index, label=label, ext="png"),
                  "masked": crop_boxes(masked, c.box),
                  "offset": [round(c.offset[0], 1), round(c.offset[1], 1)], "text": None, "window": win}
        if self.ocr is not None:
            box = self._nearest_text(c.image, c.offset)
            if box is not None:
                text, bx, by, bw, bh = box
                anchor["text"] = text
                # where the click is relative to the text's centre: replay by OCR clicks there too
                anchor["text_offset"] = [round(c.offset[0] - bx - bw / 2, 1), round(c.offset[1] - by - bh / 2, 1)]
                anchor["text_size"] = [bw, bh]  # with text_offset: was the point on the text itself
            # a field's label sits left of it: read that strip (export's "into", --secret FIELD); a
            # line on the point's own row first (a neighbour's longer label or list item may reach
            # further right), then the rightmost end
            px, py = x - frame.left, y - frame.top
            left, top = max(0, px - 320), max(0, py - 30)
            strip = frame.image.crop((left, top, max(left + 8, px - 4), min(frame.height, py + 30)))
            lines = sorted(self._read(strip), key=lambda b: (not b[2] <= py - top <= b[2] + b[4], -(b[1] + b[3])))
            anchor["label"] = lines[0][0] if lines else None
        return anchor

    def _read(self, img: Image.Image) -> list[tuple[str, int, int, int, int]]:
        try:
            return list(self.ocr(img)) if self.ocr else []
        except Exception:  # noqa: BLE001 - OCR is a hint; a recording never fails for it
            return []

    def _nearest_text(self, img: Image.Image, point: tuple[float, float]):
        """The text line under the point, else the nearest one (a field's label beside it)."""
        px, py = point

        def dist(b):
            _, x, y, w, h = b
            return max(x - px, 0, px - x - w) ** 2 + max(y - py, 0, py - y - h) ** 2

        boxes = self._read(img)
        return min(boxes, key=dist) if boxes else None

    def _typed(self, step: dict, sem: Semantic) -> None:
        """Name the typed value (for ``--var`` and export) and replace it by a placeholder if secret."""
        last = self._last_click or {}
        label = " ".join(t for t in (last.get("label"), last.get("text")) if t)
        secret_name = next((name for field, name in self.secret_fields.items() if field in label.lower()), None)
        if sem.secret or secret_name:
            name = self._unique(secret_name or (env_name(last["label"]) if last.get("label") else "SECRET"))
            step["action"]["text"] = "{{secret:%s}}" % name
            step["secret"] = name
            return
        base = re.sub(r"[^a-z0-9]+", "_", (last.get("label") or "").lower()).strip("_")
        step["var"] = self._unique(base if base and not base[0].isdigit() else "text")

    def _unique(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}{n}" if base[-1:].isalpha() else f"{base}_{n}"
        self._names.add(name)
        return name
