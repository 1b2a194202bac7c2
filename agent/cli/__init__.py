"""The ``agent`` command line (typer + rich): one module per command group, all on one typer app.

``agent.cli.common`` holds the app, the consoles, the shared options and helpers; importing the
command modules below registers their commands on it.
"""

from __future__ import annotations

from agent.cli import basic, eval, fill, inspect, record, run  # noqa: F401 - registers the commands
from agent.cli.common import app


def main() -> None:
    app()
