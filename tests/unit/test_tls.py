"""The shared TLS context follows the certificates the environment names: a child of the command
runner takes on its command's environment after the runner made the context."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from seedance.tls import tls_context


def test_one_context_per_certificate_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = tls_context()
    assert tls_context() is default and default.cert_store_stats()["x509_ca"] > 50  # certifi's bundle

    bundle = Path(certifi.where()).read_text()
    first = bundle[bundle.index("-----BEGIN CERTIFICATE-----") :]
    one = tmp_path / "one-ca.pem"
    one.write_text(first[: first.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(one))
    named = tls_context()
    assert named is not default and named.cert_store_stats()["x509_ca"] == 1 and tls_context() is named

    monkeypatch.delenv("SSL_CERT_FILE")
    assert tls_context() is default
