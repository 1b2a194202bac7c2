"""The doctor's accessibility check: is an AT-SPI bus reachable on this desktop, and which
applications publish a tree the element model can read?

Kept beside ``doctor.py`` and registered on import (like the model check), so the display checks
stay free of D-Bus code. A missing bus is a warning, not a failure: the agent still works from
pixels (OCR and the visual parse), only without exact names and bounds.
"""

from __future__ import annotations

import time

from agent.desktop.doctor import Check, Context, register_check

#: What to do when an application shows no tree (shown with the check).
HINTS = (
    "Chromium/Chrome publish page content only with --force-renderer-accessibility (and a fresh "
    "--user-data-dir)",
    "GTK and Qt apps publish when started after the bus, with its DBUS_SESSION_BUS_ADDRESS, without "
    "NO_AT_BRIDGE=1 (Qt also needs QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1)",
    "Tk 8.6 publishes nothing (the agent uses the visual path there)",
)
NO_BUS = ("start the virtual desktop with accessibility (`agent desktop --a11y`, or "
          "VirtualDesktop(accessibility=True)), or use a desktop session that runs at-spi-bus-launcher "
          "(Debian/Ubuntu: at-spi2-core); until then elements come from pixels only")


def _windows_without_tree(src) -> list[str]:  # noqa: ANN001 - an A11ySource
    """Titles of X windows that no accessible window matches (a Tk app, an app started before the bus)."""
    from agent.elements.x11_windows import iou

    frames = [box for _, _, box in src.windows() if box[2] > 0 and box[3] > 0]
    return [title or "(untitled)" for box, title in src.x_windows()
            if not any(iou(box, f) >= 0.3 for f in frames) and (title or box[2] * box[3] > 100 * 100)]


@register_check("accessibility")
def check_accessibility(ctx: Context) -> Check:
    from agent.elements.a11y import A11ySource

    t0 = time.perf_counter()
    with A11ySource(ctx.display, attributes=False) as src:
        if not src.available:
            return Check("accessibility", "warn", f"{src.unavailable}; {NO_BUS}", {"bus": False})
        apps = src.applications()
        bare = _windows_without_tree(src)
    data = {"bus": True, "apps": [{"name": a.name, "nodes": a.nodes, "error": a.error} for a in apps],
            "windows_without_tree": bare, "elapsed_s": round(time.perf_counter() - t0, 3)}
    with_tree = [a for a in apps if a.nodes > 1 and not a.error]
    parts = ["accessibility bus reachable"]
    if with_tree:
        parts.append("trees from: " + ", ".join(f"{a.name} ({a.nodes} nodes)" for a in with_tree))
    others = [a for a in apps if a not in with_tree]
    if others:
        parts.append("no tree from: " + ", ".join(f"{a.name}" + (f" ({a.error})" if a.error else "") for a in others))
    if not apps:
        parts.append("no application is registered on it")
    if bare:
        parts.append(f"{len(bare)} window(s) publish no tree: " + ", ".join(map(repr, bare)))
    if others or bare or not apps:
        parts.append("elements there come from pixels; " + "; ".join(HINTS))
    status = "ok" if with_tree and not any(a.error for a in apps) else "warn"
    return Check("accessibility", status, "; ".join(parts), data)
