"""One TLS context for every HTTP client of the process.

httpx builds a context for each `httpx.Client` it creates, loading certifi's CA bundle each time:
about 9 ms of CPU. A batch paid it three times per item (the create, the reference check, the
download), a third of its submitting and collecting time; a context can serve any number of
clients and threads. The command runner makes it before it forks (`cli.runner`), so a command
that runs in one of its children finds it made.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def tls_context() -> ssl.SSLContext:
    """The process's verifying TLS context: certifi's CA bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set."""
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """One context per value of the two variables, which httpx reads: a child of the command runner
    takes on its command's environment, which may name other certificates than the runner's."""
    return httpx.create_ssl_context()
