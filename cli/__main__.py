"""`python -m cli ...`, the same as the `seedance` console script."""

from cli.main import app

app(prog_name="seedance")
