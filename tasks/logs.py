"""The core's log lines in the flow run's logs, where the Prefect UI shows them.

The core logs through `logging.getLogger("seedance.…")` and knows nothing of Prefect, so its
retries, reconciliations, resumes and download restarts would reach only the worker's terminal.
`route_core_logs` gives the `seedance` logger Prefect's API handler (what the
`PREFECT_LOGGING_EXTRA_LOGGERS` setting does, without asking every worker to set it), filtered to
records made inside a flow or task run: the CLI, the benchmarks and the tests log outside any run,
where the handler would only complain that it has no run to log to.
"""

from __future__ import annotations

import logging
from typing import Final

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

CORE_LOGGER: Final = "seedance"


class InsideARun(logging.Filter):
    """Lets through only records made inside a flow or task run (they have a run to be logged to)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def route_core_logs() -> None:
    """Send the core's INFO-and-above records made inside runs to the run's logs; idempotent.

    Flows call it first: a flow-run process may run several flows, the handler goes on once.
    """
    core = logging.getLogger(CORE_LOGGER)
    if any(isinstance(handler, APILogHandler) for handler in core.handlers):
        return
    if core.level == logging.NOTSET:
        core.setLevel(logging.INFO)
    handler = APILogHandler()
    handler.addFilter(InsideARun())
    # Records of a child logger turned up below the core's level stay out of the run's logs: the CLI's
    # live view listens to `seedance.wait` at DEBUG, and its status records would each be a second
    # line, beside the flow's own, for every status change.
    handler.setLevel(core.level)
    core.addHandler(handler)
