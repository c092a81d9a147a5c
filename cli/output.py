"""Results on stdout: tables printed whole, whatever the terminal's width or when piped."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def print_table(table: Table) -> None:
    """Print a table whole: at the terminal's width, or at its natural width when piped."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=Measurement.get(console, console.options.update_width(10_000), table).maximum)
    console.print(table)
