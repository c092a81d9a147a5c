"""A local, Ark-compatible Seedance gateway: real HTTP, real MP4s, Ark's rules and Ark's errors.

Start it as a process (`SEEDANCE_GATEWAY_API_KEY=K seedance gateway serve --port 0 --latency 2`, which prints
`Seedance local gateway listening on http://H:P/api/v3`) or in-process:

    >>> from local_gateway import GatewayConfig, LocalGateway
    >>> with LocalGateway(GatewayConfig(api_key="k", latency=0.5)) as gateway:
    ...     gateway.base_url
    'http://127.0.0.1:40123/api/v3'

With `--faults 0.2` (or `GatewayConfig(faults=FaultPlan(rate=0.2))`) it also misbehaves on purpose:
429s, 5xx, dropped connections, slow answers, failed tasks, cut downloads, expired URLs.
With `--dialect aiid` (or `GatewayConfig(dialect="aiid")`) it speaks a reseller gateway's variant of
the API instead of the official one: byteplus, kkiai, aiid, maxtoken, aimanyi, quickrouter.

Modules: `config` (settings), `app` (LocalGateway), `server` (the HTTP wire), `routes` (endpoints),
`dialects` (each gateway's differences, served), `aliases` (aiid's field aliases), `errors` (Ark's
envelope), `ids`, `store` (tasks and their state machine), `scheduler` and `lifecycle` (timing and
the render pool), `plan` (defaults and `adaptive` resolved), `fetch`
(reference media), `render` (ffmpeg), `files` (signed result URLs, ranges), `wire` (the task
object), `stats` (request and fault counters), `faults` (fault kinds and the `FaultPlan`),
`inject` (acting the plan out), `cli`.
"""

from local_gateway.app import LocalGateway
from local_gateway.config import GatewayConfig
from local_gateway.faults import FaultKind, FaultPlan

__all__ = ["FaultKind", "FaultPlan", "GatewayConfig", "LocalGateway"]
