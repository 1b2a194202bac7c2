"""Speed of the accessibility source: snapshot (cold and warm), element_at, focused, and the bus start.

On a private Xvfb with an accessibility bus: the test booking page in Chromium (``tests/a11y_apps``),
then also ``gtk3-widget-factory`` (a 260-node GTK 3 tree) beside it. For comparison, a plain
recursive pyatspi walk of the same desktop (what the reference notes measured at 0.20-0.26 s).
Prints medians over ``--repeat`` runs and the machine's load average (the figures scale with it).

    python bench/a11y_snapshot.py [--repeat 20] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.desktop import VirtualDesktop  # noqa: E402
from agent.elements.a11y import A11ySource  # noqa: E402
from tests.a11y_apps import BookingPage, launch_chromium, stop_group, wait_for  # noqa: E402


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:.1f} ms (min {min(xs) * 1000:.1f}, max {max(xs) * 1000:.1f})"


def timed(fn, n: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def pyatspi_walk() -> int:
    import pyatspi

    count = 0

    def walk(acc) -> None:  # noqa: ANN001
        nonlocal count
        try:
            acc.getRole(), acc.name, acc.getState(), acc.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
            count += 1
        except Exception:  # noqa: BLE001
            pass
        for child in acc:
            if child is not None:
                walk(child)

    for app in pyatspi.Registry.getDesktop(0):
        if app is not None:
            walk(app)
    return count


def measure(label: str, display: str, repeat: int, profile: bool) -> None:
    cold = A11ySource(display)
    t0 = time.perf_counter()
    els = cold.snapshot()
    cold_s = time.perf_counter() - t0
    warm = timed(cold.snapshot, repeat)
    target = next((e for e in els if e.role == "button"), els[0])
    at = timed(lambda: cold.element_at(*target.center), repeat)
    foc = timed(cold.focused, repeat)
    print(f"{label}: {len(els)} elements; snapshot cold {cold_s * 1000:.0f} ms; warm {ms(warm)}")
    print(f"  element_at {ms(at)}; focused {ms(foc)}; last timings "
          + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in cold.last_timings.items()))
    if profile:
        import cProfile
        import pstats

        cProfile.runctx("for _ in range(10): src.snapshot()", {}, {"src": cold}, "/tmp/a11y_snapshot.prof")
        pstats.Stats("/tmp/a11y_snapshot.prof").sort_stats("tottime").print_stats(10)
    cold.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    with VirtualDesktop((1280, 800), accessibility=True) as desk:
        total = time.perf_counter() - t0
        print(f"desktop with accessibility: {total * 1000:.0f} ms, of which the bus {desk.a11y.startup_s * 1000:.0f} ms")
        page = BookingPage()
        proc, profile = launch_chromium(page.url, desk.env, position=(0, 0), size=(900, 780))
        procs = [proc]
        try:
            page.wait(lambda p: p.layout, timeout=60)
            probe = A11ySource(desk.display)
            wait_for(lambda: any(e.name.startswith("Pay") for e in probe.snapshot()), timeout=60)
            measure("chromium booking page", desk.display, args.repeat, args.profile)
            from agent.desktop.a11y_bus import apply_env

            apply_env(desk.a11y.env)  # pyatspi (libatspi) reads the bus from the environment
            walk = timed(pyatspi_walk, 5)
            print(f"  pyatspi recursive walk of the same desktop ({pyatspi_walk()} nodes): {ms(walk)}")
            if shutil.which("gtk3-widget-factory"):
                gtk = subprocess.Popen(["gtk3-widget-factory"], env=desk.env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
                procs.append(gtk)
                wait_for(lambda: any(e.name == "Sans Regular" for e in probe.snapshot()), timeout=60)
                # the factory covers the page: its elements are what shows
                measure("gtk3-widget-factory (over the page)", desk.display, args.repeat, args.profile)
            probe.close()
        finally:
            for p in procs:
                stop_group(p)
            shutil.rmtree(profile, ignore_errors=True)
            page.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
