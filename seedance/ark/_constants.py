"""Defaults for talking to Ark gateways, in one place."""

from __future__ import annotations

from typing import Final

import httpx

API_TIMEOUT: Final = httpx.Timeout(connect=5.0, write=30.0, read=30.0, pool=10.0)
"""Per-phase timeouts for API calls. Writes get room for bodies with inline images (up to 64 MB)."""

DOWNLOAD_TIMEOUT: Final = httpx.Timeout(connect=10.0, write=10.0, read=60.0, pool=10.0)
"""Result downloads: the only place with a long read timeout."""

READ_RETRIES: Final = 4
"""Attempts after the first for GET, list and DELETE before an error reaches the caller."""

RETRY_BASE_SECONDS: Final = 0.5
RETRY_CAP_SECONDS: Final = 8.0

TASKS_PATH: Final = "/contents/generations/tasks"
USER_AGENT: Final = "seedance-pipeline/0.1"
