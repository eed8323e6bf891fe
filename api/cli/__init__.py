"""The `clustermatch` command line and the processes it starts."""

from api.cli.commands import main

__all__ = ["main"]
