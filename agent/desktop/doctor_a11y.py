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


@register_check("accessibility")
def check_accessibility(ctx: Context) -> Check:
    from agent.elements.a11y import A11ySource

    t0 = time.perf_counter()
    with A11ySource(ctx.display, attributes=False) as src:
        if not src.available:
            return Check("accessibility", "warn", f"{src.unavailable}; {NO_BUS}", {"bus": False})
        apps = src.applications()
        took = time.perf_counter() - t0
        data = {"bus": True, "apps": [{"name": a.name, "nodes": a.nodes, "error": a.error} for a in apps],
                "elapsed_s": round(took, 3)}
        with_tree = [a for a in apps if a.nodes > 1 and not a.error]
        listed = ", ".join(f"{a.name} ({a.nodes} nodes)" if a.nodes > 1 else f"{a.name} (no tree)" for a in apps)
        if not apps:
            return Check("accessibility", "warn", "accessibility bus reachable, but no application is registered on "
                         "it; " + "; ".join(HINTS), data)
        if not with_tree:
            return Check("accessibility", "warn", f"accessibility bus reachable; applications: {listed}; none shows a "
                         "tree: " + "; ".join(HINTS), data)
        bad = [a for a in apps if a.error]
        detail = f"accessibility bus reachable; trees from: {listed}"
        if bad:
            detail += "; " + "; ".join(f"{a.name} {a.error}" for a in bad)
        if len(with_tree) < len(apps):
            detail += "; for apps without a tree: " + "; ".join(HINTS)
        return Check("accessibility", "warn" if bad else "ok", detail, data)
