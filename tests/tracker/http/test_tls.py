"""TLS served directly (a self-signed certificate made here), HSTS over TLS only, and the refusal to serve plain
HTTP off loopback unless the operator declares a TLS front."""

from __future__ import annotations

import ipaddress
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tallyhold.api.middleware import HSTS
from tallyhold.api.server import plaintext_refusal
from tallyhold.settings import Settings
from tallyhold_provision.local.ports import free_port
from tests.fixtures.instance import instance_settings, issue_token, settings_env
from tests.fixtures.platform import Tenant
from tests.fixtures.serve import served_settings, serving


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tallyhold test instance")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return cert_file, key_file


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def settings(tenant: Tenant, certificate: tuple[Path, Path]) -> Settings:
    cert_file, key_file = certificate
    return served_settings(tenant, TLS_CERT_FILE=str(cert_file), TLS_KEY_FILE=str(key_file))


@pytest_asyncio.fixture(scope="module")
async def instance(
    settings: Settings, certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    async with serving(settings, tmp_path_factory.mktemp("serve") / "serve.log", verify=trusted) as base:
        yield base


async def test_https_answers_carry_hsts(
    instance: str, settings: Settings, certificate: tuple[Path, Path], clean_tenant: None
) -> None:
    assert instance.startswith("https://")
    token = await issue_token(settings, "tls test")
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    async with httpx.AsyncClient(base_url=instance, verify=trusted, timeout=10) as client:
        health = await client.get("/healthz")
        networth = await client.get("/v1/networth", headers={"Authorization": f"Bearer {token}"})
        refused = await client.get("/v1/networth", headers={"Authorization": "Bearer th_wrong"})
    for response, status in ((health, 200), (networth, 200), (refused, 401)):
        assert response.status_code == status
        assert response.headers["strict-transport-security"] == HSTS
    assert networth.headers["cache-control"] == "no-store"


async def test_tls_1_2_offers_only_forward_secret_aead_suites(instance: str, certificate: tuple[Path, Path]) -> None:
    def client(ciphers: str) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(certificate[0]))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(ciphers)
        return context

    async with httpx.AsyncClient(verify=client("ECDHE-ECDSA-AES128-GCM-SHA256"), timeout=10) as modern:
        assert (await modern.get(f"{instance}/healthz")).status_code == 200
    # CBC suites: OpenSSL's default offers the SHA-256/384 ones.
    for weak in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA"):
        async with httpx.AsyncClient(verify=client(weak), timeout=10) as old:
            with pytest.raises(httpx.ConnectError):
                await old.get(f"{instance}/healthz")


async def test_plain_http_to_the_tls_port_gets_no_answer(instance: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(instance.replace("https://", "http://") + "/healthz")


def _serve(settings: Settings, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tallyhold.cli", "serve"],
        env=settings_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "instance.internal", ""])  # noqa: S104 - refused
def test_plain_http_on_a_non_loopback_host_is_refused_with_a_clear_error(tenant: Tenant, host: str) -> None:
    plain = instance_settings(tenant, HTTP_PORT=free_port())
    result = _serve(plain, TALLYHOLD_HTTP_HOST=host)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: refusing to serve plain HTTP on {host!r}, which is not loopback")
    assert "TALLYHOLD_TLS_UPSTREAM=true" in lines[0]


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({"HTTP_HOST": "127.0.0.1"}, False),
        ({"HTTP_HOST": "127.0.0.2"}, False),
        ({"HTTP_HOST": "::1"}, False),
        ({"HTTP_HOST": "localhost"}, False),
        ({"HTTP_HOST": "0.0.0.0"}, True),  # noqa: S104 - the case refused
        ({"HTTP_HOST": "0.0.0.0", "TLS_UPSTREAM": True}, False),  # noqa: S104 - a declared TLS front
        ({"HTTP_HOST": "0.0.0.0", "TLS_CERT_FILE": "c.pem", "TLS_KEY_FILE": "k.pem"}, False),  # noqa: S104 - HTTPS
    ],
)
def test_which_hosts_may_serve_plain_http(tenant: Tenant, overrides: dict[str, Any], refused: bool) -> None:
    assert (plaintext_refusal(instance_settings(tenant, **overrides)) is not None) is refused


def test_an_unloadable_certificate_or_half_a_pair_is_a_clear_error(
    tenant: Tenant, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    plain = instance_settings(tenant, HTTP_PORT=free_port())
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    unloadable = _serve(plain, TALLYHOLD_TLS_CERT_FILE=str(garbage), TALLYHOLD_TLS_KEY_FILE=str(certificate[1]))
    assert unloadable.returncode == 2
    assert unloadable.stderr.strip().startswith("error: TALLYHOLD_TLS_CERT_FILE / TALLYHOLD_TLS_KEY_FILE cannot be")
    missing = _serve(plain, TALLYHOLD_TLS_CERT_FILE=os.fspath(tmp_path / "absent.pem"), TALLYHOLD_TLS_KEY_FILE="k")
    assert missing.returncode == 2
    assert "No such file or directory" in missing.stderr
    half = _serve(plain, TALLYHOLD_TLS_CERT_FILE=str(certificate[0]))
    assert half.returncode == 2
    assert "TLS_CERT_FILE and TLS_KEY_FILE go together" in half.stderr
