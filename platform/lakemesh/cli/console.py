"""The terminal the commands print to: one rich `Console`, so a live progress display and plain prints share it."""

from rich.console import Console

__all__ = ["console"]

console = Console()
