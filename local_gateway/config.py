"""Settings of one local gateway."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from local_gateway.faults import FaultPlan
from seedance.ark.dialects import DialectName

API_KEY_VARIABLE = "SEEDANCE_GATEWAY_API_KEY"
"""Where a process that starts `seedance gateway serve` puts its key: anyone on the machine can read
a command line (`ps`), not another user's environment."""


class GatewayConfig(BaseModel):
    """How a `LocalGateway` listens, authenticates, speaks, paces its tasks and misbehaves."""

    model_config = ConfigDict(frozen=True)

    api_key: str = Field(min_length=1, description="The Bearer token every /api/v3 request must carry.")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(0, ge=0, le=65535, description="Port to listen on; 0 picks a free one.")
    dialect: DialectName = Field(
        DialectName.ARK, description="Whose API to serve: the official one (ark) or a gateway's (see gateway/dialects.py)."
    )
    latency: float = Field(5.0, ge=0, description="Seconds from create to succeeded, at least.")
    queue_seconds: float | None = Field(
        None, ge=0, description="Seconds a task stays queued before running; default latency / 2."
    )
    result_ttl: float = Field(86400.0, gt=0, description="Seconds a result URL stays valid (Ark: 24 h).")
    data_dir: Path | None = Field(None, description="Where references and renders go; default a temporary directory.")
    render_workers: int = Field(2, ge=1, description="Renders running at once.")
    fetch_timeout: float = Field(30.0, gt=0, description="Seconds allowed to fetch each reference URL.")
    faults: FaultPlan = Field(default_factory=FaultPlan, description="Faults to inject; none by default.")
    callback_timeout: float = Field(5.0, gt=0, description="Seconds a callback receiver has to acknowledge (Ark: 5).")
    callback_retries: int = Field(3, ge=0, description="Retries of a final status's callback not acknowledged (Ark: 3).")
    callback_backoff: float = Field(
        1.0, ge=0, description="Seconds before the first retry of a callback; each later one doubles."
    )

    @property
    def effective_queue_seconds(self) -> float:
        return self.latency / 2 if self.queue_seconds is None else self.queue_seconds
