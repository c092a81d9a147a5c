"""One TLS context for every HTTP client of the process.

httpx builds a context for each `httpx.Client` it creates, loading certifi's CA bundle each time:
about 9 ms of CPU. A batch paid it three times per item (the create, the reference check, the
download), a third of its submitting and collecting time; a context can serve any number of
clients and threads.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's verifying TLS context: certifi's CA bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set."""
    return httpx.create_ssl_context()
