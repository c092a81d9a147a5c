"""`python -m seedance.gateway serve …`, the same as `seedance gateway serve …`."""

from seedance.gateway.cli import app

app(prog_name="python -m seedance.gateway")
