"""Key names: one canonical spelling per key, validated before anything is pressed.

The canonical names are pyautogui's (``ctrl``, ``enter``, ``pagedown`` ...), because that is the
backend that presses them; the aliases cover what models and people write (``Control``, ``Return``,
``cmd``, ``PgDn``, ``Esc``). Kept as data here so ``actions/`` does not import pyautogui (which
binds to a display at import time).
"""

from __future__ import annotations

import string

from actions.errors import ActionValidationError

_NAMED = """
accept add alt altleft altright apps backspace browserback browserfavorites browserforward
browserhome browserrefresh browsersearch browserstop capslock clear convert ctrl ctrlleft ctrlright
decimal delete divide down end enter escape execute final fn hangul hanja help home insert junja
kana kanji launchapp1 launchapp2 launchmail launchmediaselect left modechange multiply nexttrack
nonconvert numlock pagedown pageup pause playpause prevtrack printscreen right scrolllock select
separator shift shiftleft shiftright sleep space stop subtract tab up volumedown volumemute volumeup
win winleft winright yen command option optionleft optionright
""".split()

KEY_NAMES: frozenset[str] = frozenset(
    _NAMED
    + [f"f{i}" for i in range(1, 25)]
    + [f"num{i}" for i in range(10)]
    + list(string.ascii_lowercase)
    + list(string.digits)
    + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
)

ALIASES: dict[str, str] = {
    "control": "ctrl", "ctl": "ctrl", "lctrl": "ctrlleft", "rctrl": "ctrlright",
    "return": "enter", "ret": "enter", "esc": "escape", "del": "delete", "ins": "insert",
    "pgup": "pageup", "pgdn": "pagedown", "page_up": "pageup", "page_down": "pagedown",
    "prior": "pageup", "next": "pagedown",
    "cmd": "win", "super": "win", "meta": "win", "windows": "win", "os": "win",
    "opt": "alt", "menu": "apps", "bksp": "backspace", "back_space": "backspace",
    "caps_lock": "capslock", "prtsc": "printscreen", "prtscr": "printscreen",
    "prntscrn": "printscreen", "print": "printscreen", "arrowup": "up", "arrowdown": "down",
    "arrowleft": "left", "arrowright": "right", "spacebar": "space", "plus": "+", "minus": "-",
    "hanguel": "hangul",
}


def normalize_key(name: str) -> str:
    """The canonical name of a key, or ``ActionValidationError`` naming the bad key."""
    if not isinstance(name, str) or not name:
        raise ActionValidationError(f"key name must be a non-empty string, got {name!r}")
    if name == " ":
        return "space"
    raw = name.strip()
    k = raw.lower().replace(" ", "")
    k = k.replace("-", "_") if len(k) > 1 else k
    if k in KEY_NAMES:
        return k
    if k in ALIASES:
        return ALIASES[k]
    if k.replace("_", "") in KEY_NAMES:
        return k.replace("_", "")
    if len(raw) == 1 and raw.isupper():
        return raw.lower()
    raise ActionValidationError(f"unknown key name {name!r}")


def parse_combo(text: str) -> tuple[str, ...]:
    """``"ctrl+shift+t"`` → ``("ctrl", "shift", "t")``; also accepts spaces; ``"ctrl++"`` keeps ``+``."""
    if not isinstance(text, str) or not text.strip():
        raise ActionValidationError(f"key combination must be a non-empty string, got {text!r}")
    tokens = text.strip().replace(" ", "+").split("+")
    parts = [t for t in tokens if t]
    if "" in tokens[1:-1] or tokens == ["", ""] or tokens[-2:] == ["", ""]:
        parts.append("+")  # "ctrl++" means ctrl and the plus key
    return tuple(normalize_key(p) for p in parts)
