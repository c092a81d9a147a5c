"""`python -m local_gateway serve …`, the same as `seedance gateway serve …`."""

from local_gateway.cli import app

app(prog_name="python -m local_gateway")
