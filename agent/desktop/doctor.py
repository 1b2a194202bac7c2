"""``agent doctor``: check a user's set-up before an agent touches their desktop.

Wrong clicks under HiDPI and display scaling are the top complaint about peer agents, and most
are set-up problems (no display, no XTEST, capture and input disagreeing on the screen size). Each
check is a small function returning one :class:`Check` whose detail says what to do; the last, the
click calibration, *proves* that a point found in a screenshot and mapped through
``actions.coords.ImageMap`` (also through a downscale, as a model sees it) is where the mouse
clicks, judged by ground truth from a separate window (``agent.desktop.calibration``).

Checks are registered with :func:`register_check`, in order; later issues add theirs (model
endpoint, OCR) the same way. A check that needs the display is skipped when the display check
failed, so a missing ``$DISPLAY`` gives one clear failure instead of six confusing ones.

pyautogui binds ``$DISPLAY`` when first imported, so run the doctor in a fresh process (the CLI
does): a process already bound to another display is reported, not silently checked on the wrong one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]
NO_DISPLAY_HINT = "run `agent desktop` for a virtual one, or set DISPLAY"


@dataclass(frozen=True)
class Check:
    """The outcome of one check; ``data`` holds the measured values (for ``--json`` and tests)."""

    name: str
    status: Status
    detail: str
    data: dict = field(default_factory=dict)


class DoctorError(Exception):
    """A check cannot proceed; the message is the detail shown to the user."""


class Context:
    """What checks share: the display name, earlier results, and lazily opened connections."""

    def __init__(self, display: str | None, calibrate: bool = True) -> None:
        self.display = display
        self.calibrate = calibrate
        self.results: dict[str, Check] = {}
        self._xlib = self._screen = self._backend = None

    @property
    def display_ok(self) -> bool:
        c = self.results.get("display")
        return c is not None and c.status in ("ok", "warn")

    def xlib(self):  # noqa: ANN201 - Xlib.display.Display
        if self._xlib is None:
            from Xlib import display as xdisplay

            self._xlib = xdisplay.Display(self.display)
        return self._xlib

    def screen(self):  # noqa: ANN201 - agent.screen.Screen
        if self._screen is None:
            from agent.screen import Screen

            self._screen = Screen(self.display)
        return self._screen

    def backend(self):  # noqa: ANN201 - actions.backends.PyAutoGUIBackend
        """The real input backend, refusing a pyautogui already bound to another display."""
        if self._backend is None:
            bound = _pyautogui_display()
            if bound is not None and self.display and _norm(bound) != _norm(self.display):
                raise DoctorError(f"pyautogui in this process is bound to display {bound}, not {self.display}; "
                                  "run `agent doctor` in a fresh process")
            from actions.backends import PyAutoGUIBackend
            from actions.errors import ActionError

            try:
                self._backend = PyAutoGUIBackend()
            except ActionError as e:
                raise DoctorError(str(e)) from None
        return self._backend

    def close(self) -> None:
        for obj in (self._screen, self._xlib):
            with contextlib.suppress(Exception):
                obj.close()
        self._xlib = self._screen = None


def _norm(display: str) -> str:  # ":99.0" and ":99" name the same display
    host, _, rest = display.partition(":")
    return f"{host}:{rest.split('.')[0]}"


def _pyautogui_display() -> str | None:
    mod = sys.modules.get("pyautogui._pyautogui_x11")
    try:
        return mod._display.get_display_name() if mod is not None else None
    except Exception:  # noqa: BLE001
        return None


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    fn: Callable[[Context], Check]
    needs_display: bool = True

    def __call__(self, ctx: Context) -> Check:
        return self.fn(ctx)


#: The checks, in the order they run (and are shown).
CHECKS: list[RegisteredCheck] = []


def register_check(name: str, *, needs_display: bool = True) -> Callable:
    """Decorator adding ``fn(ctx) -> Check`` to :data:`CHECKS` (replacing a check of the same name)."""

    def deco(fn: Callable[[Context], Check]) -> Callable[[Context], Check]:
        CHECKS[:] = [c for c in CHECKS if c.name != name]
        CHECKS.append(RegisteredCheck(name, fn, needs_display))
        return fn

    return deco


def _linux() -> bool:
    return sys.platform.startswith("linux")


@contextlib.contextmanager
def _display_env(display: str | None) -> Iterator[None]:
    """Point ``$DISPLAY`` at the checked display while checking (Xlib, pynput and pyautogui read it)."""
    old = os.environ.get("DISPLAY")
    if display:
        os.environ["DISPLAY"] = display
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


def run_checks(*, display: str | None = None, calibrate: bool = True) -> list[Check]:
    """Run every registered check in order; never raises (a crashing check is a ``fail``)."""
    ctx = Context(display if display is not None else os.environ.get("DISPLAY"), calibrate)
    with _display_env(ctx.display):
        try:
            for chk in CHECKS:
                if chk.needs_display and not ctx.display_ok:
                    result = Check(chk.name, "skip", "needs a reachable display (see the display check)")
                else:
                    try:
                        result = chk(ctx)
                    except DoctorError as e:
                        result = Check(chk.name, "fail", str(e))
                    except Exception as e:  # noqa: BLE001 - one broken check must not hide the others
                        result = Check(chk.name, "fail", f"check crashed: {type(e).__name__}: {e}")
                    result = replace(result, name=chk.name)
                ctx.results[chk.name] = result
        finally:
            ctx.close()
    return list(ctx.results.values())


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0


_STYLE = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red", "skip": "dim"}


def render(checks: list[Check], console: Any) -> None:
    """A table (check, status, detail) and a one-line verdict on a rich console."""
    from rich.table import Table

    from rich.markup import escape

    table = Table(title="agent doctor")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for c in checks:  # details quote server errors ("[Errno 111]"): never read them as markup
        table.add_row(escape(c.name), f"[{_STYLE[c.status]}]{c.status}[/]", escape(c.detail))
    console.print(table)
    failed = [c.name for c in checks if c.status == "fail"]
    warned = [c.name for c in checks if c.status == "warn"]
    if failed:
        console.print(f"[bold red]✗ {len(failed)} check(s) failed:[/] {escape(', '.join(failed))}. "
                      "Fix these before running the agent.", highlight=False)
    elif warned:
        console.print(f"[bold yellow]! Ready, with {len(warned)} warning(s):[/] {escape(', '.join(warned))}.",
                      highlight=False)
    else:
        console.print("[bold green]✓ Ready: capture and input agree on this machine.[/]", highlight=False)


# The checks -------------------------------------------------------------------------------------

@register_check("display", needs_display=False)
def check_display(ctx: Context) -> Check:
    """DISPLAY is set and an X connection opens (Linux); elsewhere the native display is used."""
    if not _linux():
        return Check("display", "ok", f"native display ({sys.platform})")
    if not ctx.display:
        return Check("display", "fail", f"DISPLAY is not set: {NO_DISPLAY_HINT}")
    try:
        d = ctx.xlib()
    except Exception as e:  # noqa: BLE001 - DisplayConnectionError, DisplayNameError, OSError
        return Check("display", "fail", f"cannot open X display {ctx.display} ({e}): {NO_DISPLAY_HINT}",
                     {"display": ctx.display})
    scr, vendor = d.screen(), getattr(d.display.info, "vendor", b"") or b"unknown server"
    vendor = (vendor.decode("latin-1") if isinstance(vendor, bytes) else str(vendor)).strip()
    data = {"display": ctx.display, "vendor": vendor, "size": [scr.width_in_pixels, scr.height_in_pixels]}
    detail = f"X display {ctx.display} ({vendor}), {scr.width_in_pixels}x{scr.height_in_pixels}"
    if wayland := os.environ.get("XDG_SESSION_TYPE") == "wayland" or bool(os.environ.get("WAYLAND_DISPLAY")):
        detail += ("; this is a Wayland session: capture and input go through XWayland and only reach "
                   "X11 apps; log in to an Xorg session for full control")
    return Check("display", "warn" if wayland else "ok", detail, data)


def xft_dpi(d) -> float | None:  # noqa: ANN001 - Xlib display
    """``Xft.dpi`` from the X resource database (what ``xrdb -query`` shows), or None if unset."""
    from Xlib import Xatom

    prop = d.screen().root.get_full_property(Xatom.RESOURCE_MANAGER, Xatom.STRING)
    text = prop.value.decode("latin-1") if prop is not None and isinstance(prop.value, bytes) else ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Xft.dpi":
            with contextlib.suppress(ValueError):
                return float(value.strip())
    return None


@register_check("screen & scale")
def check_scale(ctx: Context) -> Check:
    """Input space (pyautogui) vs capture space (mss) and the X DPI: where HiDPI clicks go wrong."""
    iw, ih = ctx.backend()._pg.size()
    cw, ch = ctx.screen().size()
    sx, sy = cw / iw, ch / ih
    data: dict[str, Any] = {"input_size": [iw, ih], "capture_size": [cw, ch], "scale": round(sx, 4)}
    notes = []
    if _linux():
        d = ctx.xlib()
        dpi = xft_dpi(d)
        mm = d.screen().width_in_mms
        data["xft_dpi"], data["physical_dpi"] = dpi, round(iw / (mm / 25.4), 1) if mm else None
        if dpi is not None and abs(dpi - 96) > 1:
            notes.append(f"Xft.dpi={dpi:g}: apps draw at {dpi / 96:.2g}x (logical 96 dpi vs {dpi:g}); "
                         "X11 input and capture both stay in physical pixels")
    env = {k: os.environ[k] for k in ("GDK_SCALE", "QT_SCALE_FACTOR") if os.environ.get(k)}
    if env:
        data["env"] = env
        notes.append("toolkit scaling " + ", ".join(f"{k}={v}" for k, v in env.items()))
    base = f"input {iw}x{ih}, capture {cw}x{ch} (scale {sx:g})"
    if abs(sx - sy) > 0.01:
        return Check("", "fail", f"{base} but {sy:g} vertically: capture and input disagree on the aspect "
                     "ratio; check the display configuration (xrandr)", data)
    if abs(sx - 1) > 0.001:
        notes.insert(0, f"HiDPI: screenshots have {sx:g} px per input px; coordinates are mapped by "
                     "actions.coords.ImageMap (the calibration below proves it)")
    return Check("", "warn" if notes else "ok", "; ".join([base, *notes]), data)


@register_check("monitors")
def check_monitors(ctx: Context) -> Check:
    mons = ctx.screen().monitors()
    listed = [m for m in mons if m.index > 0] or mons
    text = ", ".join(f"#{m.index} {m.width}x{m.height}+{m.left}+{m.top}" for m in listed)
    data = {"monitors": [[m.index, m.left, m.top, m.width, m.height] for m in mons]}
    return Check("", "ok", f"{len(listed)} monitor(s): {text}", data)


def _listener_starts(timeout: float = 3.0) -> str | None:
    """Start and stop the kill-hotkey listener (the real one); None if fine, else why not."""
    import threading

    from actions.killswitch import KillSwitch, StopFlag

    ks, err = KillSwitch(StopFlag()), []

    def start() -> None:
        try:
            ks.start()
        except Exception as e:  # noqa: BLE001
            err.append(str(e))

    t = threading.Thread(target=start, daemon=True)
    t.start()
    t.join(timeout)
    ks.stop()
    return f"the keyboard listener did not start within {timeout:g} s" if t.is_alive() else (err or [None])[0]


@register_check("input permission")
def check_input(ctx: Context) -> Check:
    """XTEST (pyautogui sends input with it), RECORD (pynput sees the kill hotkey with it), a listener."""
    problems, data = [], {}
    if _linux():
        d = ctx.xlib()
        for ext, why in (("XTEST", "pyautogui cannot send mouse and keyboard input"),
                         ("RECORD", "the kill hotkey cannot be heard (pynput needs it)")):
            data[ext] = d.query_extension(ext) is not None
            if not data[ext]:
                problems.append(f"the X server lacks the {ext} extension, so {why}; enable it "
                                f"(Xvfb/Xorg: +extension {ext})")
    try:
        ctx.backend()
        data["pyautogui"] = True
    except DoctorError as e:
        data["pyautogui"] = False
        problems.append(str(e))
    why = _listener_starts()
    data["kill_hotkey_listener"] = why is None
    if why is not None:
        problems.append(f"{why}; the kill hotkey will not work (the agent refuses to run without it "
                        "unless given --no-kill-hotkey)")
    if problems:
        return Check("", "fail", "; ".join(problems), data)
    exts = "XTEST and RECORD present, " if _linux() else ""
    return Check("", "ok", f"{exts}pyautogui ready, kill-hotkey listener starts and stops", data)


@register_check("tools")
def check_tools(ctx: Context) -> Check:
    """xdotool (non-ASCII typing on X11) and pyautogui's fail-safe corner."""
    import shutil

    pg = ctx.backend()._pg
    data = {"xdotool": shutil.which("xdotool"), "failsafe": bool(pg.FAILSAFE)}
    if not pg.FAILSAFE:
        return Check("", "fail", "pyautogui's fail-safe is off; it must stay on (mouse to a corner stops the run)",
                     data)
    notes, status = ["fail-safe on (move the mouse to a screen corner to stop)"], "ok"
    if tuple(pg.position()) in [tuple(p) for p in pg.FAILSAFE_POINTS]:
        notes.append("the mouse is in a fail-safe corner now: move it away or every action stops")
        status = "warn"
    if _linux() and data["xdotool"] is None:
        notes.append("xdotool not found: non-ASCII text cannot be typed (apt-get install xdotool)")
        status = "warn"
    elif _linux():
        notes.append("xdotool found")
    return Check("", status, "; ".join(notes), data)


@register_check("calibration")
def check_calibration(ctx: Context) -> Check:
    """Click targets found in a screenshot and compare with where the calibration window saw them."""
    if not ctx.calibrate:
        return Check("", "skip", "not run (calibration turned off)")
    from agent.desktop.calibration import CalibrationError, measure

    t0 = time.monotonic()
    backend = ctx.backend()
    start = backend.position()
    try:
        passes = measure(backend, ctx.screen(), display=ctx.display)
    except CalibrationError as e:
        return Check("", "fail", str(e))
    finally:
        pg = backend._pg
        if tuple(start) not in [tuple(p) for p in pg.FAILSAFE_POINTS]:
            with contextlib.suppress(Exception):
                backend.move(*start)  # put the mouse back where the user left it
    elapsed = time.monotonic() - t0
    errs = [e for p in passes for e in p.errors.values()]
    n = passes[0].targets
    data = {"targets": n, "found": min(p.found for p in passes), "clicked": min(p.clicked for p in passes),
            "mean_px": round(sum(errs) / len(errs), 3) if errs else None,
            "max_px": round(max(errs), 3) if errs else None,
            "elapsed_s": round(elapsed, 3), "passes": [p.to_json() for p in passes]}
    summary = "; ".join(f"{p.label}: {p.found}/{n} found, {p.clicked}/{n} clicked" for p in passes)
    if errs:
        summary += f"; error mean {data['mean_px']:.2f} px, max {data['max_px']:.2f} px"
    summary += f" ({elapsed:.1f} s)"
    bad = next((p for p in passes if not p.ok), None)
    if bad is None:
        return Check("", "ok", f"{summary}; screenshot pixels map to where the mouse clicks", data)
    if bad.notes:
        why = "; ".join(bad.notes)
    elif bad.found < n or bad.clicked < bad.found:
        why = "; ".join(f"target {tid}: {msg}" for tid, msg in sorted(bad.problems.items()))
        why += " (is another window or a panel on top of the calibration window?)"
    else:
        tid = max(bad.errors, key=bad.errors.get)
        why = (f"worst target {tid} at {bad.truth[tid]}: the click landed at {bad.landed[tid]}, "
               f"{bad.errors[tid]:.1f} px away (limit {bad.tolerance:g} px): capture and input disagree; "
               "check display scaling")
    return Check("", "fail", f"{summary}; at {bad.label}: {why}", data)
