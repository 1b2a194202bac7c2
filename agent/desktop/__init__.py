"""The desktop the agent works on: a virtual X display (Xvfb), and the checks of a real one
(``agent doctor``, click calibration)."""

from agent.desktop.serve import serve_forever
from agent.desktop.xvfb import DesktopError, VirtualDesktop, parse_size

__all__ = ["DesktopError", "VirtualDesktop", "parse_size", "serve_forever"]
