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
    """Bad input: a one-line error on stderr and exit code 2, no traceback (one line in a pipe
    or a file too: never wrapped at the console's width)."""
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=2)


def check_settings() -> None:
    """Settings the environment gives that cannot be read (a bad value, a bad audit key) end
    the command with one line naming them, before it starts anything."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from fleetwatch.ledger import key_ring
    from fleetwatch.settings import Settings
    from ingestion.settings import IngestSettings

    try:
        settings = Settings()
        IngestSettings()
    except ValidationError as e:
        fields = "; ".join(
            f"FLEETWATCH_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}"
            if error["loc"]
            else error["msg"].removeprefix("Value error, ")
            for error in e.errors()
        )
        raise fail(f"bad settings: {fields}") from None
    except SettingsError as e:
        raise fail(f"bad settings: {e}") from None
    try:
        key_ring(settings)
    except ValueError as e:
        raise fail(f"bad audit keys: {e}") from None


def start(system: System) -> None:
    """`system.start()`; a setting it refuses (an unknown projection name) ends the command."""
    try:
        system.start()
    except ValueError as e:
        system.close()
        raise fail(str(e)) from None
