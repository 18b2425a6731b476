"""What every command of the CLI shares: the consoles, bad input as exit code 2, starting a
system.

Apart from the command modules so each of them imports only this, never another command group.
"""

from __future__ import annotations

import typer
from rich.console import Console

from fleetwatch.bootstrap import System

console = Console()
err = Console(stderr=True)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def fail(message: str) -> typer.Exit:
    """Bad input: a one-line error on stderr and exit code 2, no traceback."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def start(system: System) -> None:
    """`system.start()`; a setting it refuses (an unknown projection name) ends the command."""
    try:
        system.start()
    except ValueError as e:
        system.close()
        raise fail(str(e)) from None
