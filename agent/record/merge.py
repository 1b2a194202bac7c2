"""Merge a person's raw input events into semantic steps.

A replayable recording is a list of *intentions* — "click here", "type Alice", "press ctrl+s" — not
hundreds of key-down/key-up events: one event per key would replay blindly into whatever has focus,
could not be edited or parametrised (``--var``), and would spread a secret over many lines. So:

* press + release at (almost) the same point → ``click``; a second/third press on the same spot
  within ``double_click_s`` → ``clicks=2/3`` (the click is held back that long to find out);
* press, move further than ``drag_px``, release → ``drag``;
* consecutive wheel events at one spot → one ``scroll`` with summed clicks;
* printable keys → one ``type`` string (backspace edits it while it is still open);
* a key with ctrl/alt/win held → ``hotkey``; other named keys → ``press`` (repeats summed);
* the **stop** combination ends the recording and the **secret** combination marks the text being
  typed (or the next one) as secret; neither becomes a step.

Pure logic, no pynput: the recorder translates pynput's objects into ``RawEvent`` first, which keeps
this testable without a display.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actions.space import Action, Click, Drag, Hotkey, KeyPress, Scroll, TypeText

MODIFIERS = ("ctrl", "alt", "win", "shift")
_MOD_ALIASES = {"ctrlleft": "ctrl", "ctrlright": "ctrl", "altleft": "alt", "altright": "alt",
                "winleft": "win", "winright": "win", "shiftleft": "shift", "shiftright": "shift",
                "altgr": "alt", "command": "win"}


def modifier(name: str | None) -> str | None:
    if name is None:
        return None
    name = _MOD_ALIASES.get(name, name)
    return name if name in MODIFIERS else None


@dataclass(frozen=True)
class RawEvent:
    """One input event. ``kind``: press/release (mouse), scroll, key_down/key_up. ``key`` is the
    canonical key name (``enter``, ``a``, ``ctrl``); ``char`` the text the key produces, if any."""

    kind: str
    t: float
    x: int = 0
    y: int = 0
    button: str = "left"
    dx: int = 0
    dy: int = 0
    key: str | None = None
    char: str | None = None


@dataclass
class Semantic:
    """A merged step. ``t0`` is the time of its first raw event: the screenshot must predate it."""

    action: Action
    t0: float
    t1: float
    point: tuple[int, int] | None = None
    secret: bool = False
    end_point: tuple[int, int] | None = None


@dataclass
class _Pending:
    kind: str  # click | scroll | type | press
    t0: float
    t1: float
    x: int = 0
    y: int = 0
    button: str = "left"
    clicks: int = 1
    dx: int = 0
    dy: int = 0
    text: list[str] = field(default_factory=list)
    key: str = ""
    presses: int = 1
    secret: bool = False


class StepMerger:
    """Feed ``RawEvent`` s in time order; collect ``Semantic`` steps from ``feed``/``tick``/``flush``."""

    def __init__(self, *, stop: tuple[str, ...], secret: tuple[str, ...] | None = None,
                 double_click_s: float = 0.4, drag_px: int = 6, scroll_gap_s: float = 0.6) -> None:
        self.stop_combo = frozenset(stop)
        self.secret_combo = frozenset(secret) if secret else None
        self.double_click_s = double_click_s
        self.drag_px = drag_px
        self.scroll_gap_s = scroll_gap_s
        self.stopped = False
        self._mods: set[str] = set()
        self._down: RawEvent | None = None  # a mouse button held down
        self._pending: _Pending | None = None
        self._secret_next = False

    # public ----------------------------------------------------------------------------------
    def feed(self, ev: RawEvent) -> list[Semantic]:
        if self.stopped:
            return []
        handler = getattr(self, f"_on_{ev.kind}", None)
        if handler is None:
            raise ValueError(f"unknown raw event kind {ev.kind!r}")
        return handler(ev)

    def open_since(self) -> list[float]:
        """Start times of the steps still being merged (their "before" screenshot must be kept)."""
        return [t for t in (self._pending.t0 if self._pending else None, self._down.t if self._down else None)
                if t is not None]

    def tick(self, now: float) -> list[Semantic]:
        """Emit a click or scroll whose merge window has passed (typing waits for the next event:
        a secret hotkey may still come for it)."""
        p = self._pending
        if p and ((p.kind == "click" and now - p.t1 > self.double_click_s)
                  or (p.kind == "scroll" and now - p.t1 > self.scroll_gap_s)):
            return self.flush()
        return []

    def flush(self) -> list[Semantic]:
        p, self._pending = self._pending, None
        if p is None:
            return []
        if p.kind == "click":
            return [Semantic(Click(p.x, p.y, button=p.button, clicks=p.clicks), p.t0, p.t1, (p.x, p.y))]
        if p.kind == "scroll":
            return [Semantic(Scroll(dy=p.dy, dx=p.dx, x=p.x, y=p.y), p.t0, p.t1, (p.x, p.y))] \
                if (p.dx or p.dy) else []
        if p.kind == "type":
            text = "".join(p.text)
            return [Semantic(TypeText(text), p.t0, p.t1, secret=p.secret)] if text else []
        return [Semantic(KeyPress(p.key, presses=p.presses), p.t0, p.t1)]

    # mouse -----------------------------------------------------------------------------------
    def _on_press(self, ev: RawEvent) -> list[Semantic]:
        out: list[Semantic] = []
        p = self._pending
        if not (p and p.kind == "click" and p.button == ev.button and p.clicks < 3
                and ev.t - p.t1 <= self.double_click_s and _near(p.x, p.y, ev.x, ev.y, self.drag_px)):
            out += self.flush()
        self._down = ev
        return out

    def _on_release(self, ev: RawEvent) -> list[Semantic]:
        down, self._down = self._down, None
        if down is None or down.button != ev.button:
            return []
        if not _near(down.x, down.y, ev.x, ev.y, self.drag_px):
            out = self.flush()
            dur = max(0.1, min(2.0, ev.t - down.t))
            out.append(Semantic(Drag(down.x, down.y, ev.x, ev.y, button=ev.button, duration=round(dur, 3)),
                                down.t, ev.t, (down.x, down.y), end_point=(ev.x, ev.y)))
            return out
        p = self._pending
        if p and p.kind == "click" and p.button == ev.button and _near(p.x, p.y, down.x, down.y, self.drag_px):
            p.clicks += 1
            p.t1 = ev.t
            return []
        out = self.flush()
        self._pending = _Pending("click", down.t, ev.t, down.x, down.y, button=ev.button)
        return out

    def _on_scroll(self, ev: RawEvent) -> list[Semantic]:
        p = self._pending
        if p and p.kind == "scroll" and ev.t - p.t1 <= self.scroll_gap_s and _near(p.x, p.y, ev.x, ev.y, 20):
            p.dx, p.dy, p.t1 = p.dx + ev.dx, p.dy + ev.dy, ev.t
            return []
        out = self.flush()
        self._pending = _Pending("scroll", ev.t, ev.t, ev.x, ev.y, dx=ev.dx, dy=ev.dy)
        return out

    # keyboard --------------------------------------------------------------------------------
    def _on_key_up(self, ev: RawEvent) -> list[Semantic]:
        m = modifier(ev.key)
        if m:
            self._mods.discard(m)
        return []

    def _on_key_down(self, ev: RawEvent) -> list[Semantic]:
        m = modifier(ev.key)
        if m:
            self._mods.add(m)
            return []
        if self._mods & {"ctrl", "alt", "win"}:
            return self._combo(ev)
        p = self._pending
        ch = " " if ev.key == "space" else ev.char
        if ch is not None and len(ch) == 1 and ch.isprintable():
            if not (p and p.kind == "type"):
                out = self.flush()
                self._pending = _Pending("type", ev.t, ev.t, secret=self._secret_next)
                self._secret_next = False
                p = self._pending
            else:
                out = []
            p.text.append(ch)
            p.t1 = ev.t
            return out
        if ev.key == "backspace" and p and p.kind == "type" and p.text:
            p.text.pop()
            p.t1 = ev.t
            return []
        if ev.key is None:
            return []
        if p and p.kind == "press" and p.key == ev.key and p.presses < 100:
            p.presses += 1
            p.t1 = ev.t
            return []
        out = self.flush()
        self._pending = _Pending("press", ev.t, ev.t, key=ev.key)
        return out

    def _combo(self, ev: RawEvent) -> list[Semantic]:
        key = ev.key or (ev.char or "").lower()
        if not key:
            return []
        combo = frozenset(self._mods | {key})
        if combo == self.stop_combo:
            out = self.flush()
            self.stopped = True
            return out
        if self.secret_combo is not None and combo == self.secret_combo:
            p = self._pending
            if p and p.kind == "type":
                p.secret = True
            else:
                self._secret_next = True
            return []
        out = self.flush()
        keys = tuple(m for m in MODIFIERS if m in self._mods) + (key,)
        out.append(Semantic(Hotkey(keys), ev.t, ev.t))
        return out


def _near(x1: int, y1: int, x2: int, y2: int, px: int) -> bool:
    return abs(x1 - x2) <= px and abs(y1 - y2) <= px
