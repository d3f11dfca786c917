"""Structured logs carry no secret in any encoding, and the access log carries no query string or body."""

from __future__ import annotations

import base64
import io
import json
import logging
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest

from tallyhold.logging import REDACTED, JsonStderrHandler, RedactionFilter, SecretRegistry, encodings, secrets

SECRET = "cnry_0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonStderrHandler().formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_registered_secrets_are_masked_in_every_encoding(captured: io.StringIO) -> None:
    secrets.add(SECRET)
    log = logging.getLogger("tallyhold.test")
    for form in encodings(SECRET):
        log.info("value %s in message", form, extra={"detail": f"x{form}y"})
    try:
        raise ValueError(SECRET)
    except ValueError:
        log.exception("failure")
    text = captured.getvalue()
    assert "[REDACTED]" in text
    for form in (SECRET, base64.b64encode(SECRET.encode()).decode(), urllib.parse.quote(SECRET), SECRET.encode().hex()):
        assert form not in text
    for line in text.splitlines():
        json.loads(line)


def test_header_shaped_credentials_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("ccxt.fake")
    log.warning(
        "Request: {'X-MBX-APIKEY': 'abcdefABCDEF123456', 'Authorization': 'Bearer th_aaaaaaaaaaaa_%s'}", "b" * 43
    )
    text = captured.getvalue()
    assert "abcdefABCDEF123456" not in text
    assert "b" * 43 not in text


def test_third_party_debug_loggers_are_pinned() -> None:
    from tallyhold.logging import configure_logging

    configure_logging("DEBUG")
    for name in ("ccxt", "hvac", "urllib3", "web3", "psycopg.pool"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


async def test_access_log_has_route_not_query(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tallyhold.access")
    await client.get(f"/v1/networth/history?step=1h&secret={SECRET}")
    records = [r for r in caplog.records if r.name == "tallyhold.access"]
    assert records
    entry = records[-1]
    assert entry.__dict__["route"] == "/v1/networth/history"
    assert SECRET not in json.dumps({k: str(v) for k, v in entry.__dict__.items()})


def test_untrusted_flood_cannot_evict_instance_secrets() -> None:
    registry = SecretRegistry(capacity=8, untrusted_capacity=4)
    registry.add("instance-secret-0001")
    for i in range(1000):
        registry.add_untrusted(f"pasted-by-a-client-{i:05d}")
    assert len(registry) == 5
    assert registry.scrub("x instance-secret-0001 y") == f"x {REDACTED} y"
    assert registry.scrub("pasted-by-a-client-00000") == "pasted-by-a-client-00000"  # aged out
    assert registry.scrub("pasted-by-a-client-00999") == REDACTED


def test_secrets_in_use_stay_and_old_ones_age_out() -> None:
    registry = SecretRegistry(capacity=3)
    registry.add("vault-token-old-1")
    registry.add("decrypted-key-abc")
    for i in range(5):
        registry.add("decrypted-key-abc")  # registered again at every use
        registry.add(f"vault-token-new-{i}")
    assert REDACTED in registry.scrub("decrypted-key-abc")
    assert registry.scrub("vault-token-old-1") == "vault-token-old-1"


def test_longest_encoding_is_masked_whole() -> None:
    registry = SecretRegistry()
    registry.add("abcdef")
    registry.add("abcdefghijkl")
    assert registry.scrub("[abcdefghijkl] [abcdef]") == f"[{REDACTED}] [{REDACTED}]"


def test_scrub_cost_does_not_depend_on_the_number_of_secrets() -> None:
    """Structural, not timed: a line is scanned with one index lookup per position, whatever the count."""
    registry = SecretRegistry(capacity=10_000)
    for i in range(5000):
        registry.add(f"secret-value-{i:06d}-padding")
    line = "an ordinary access log line without anything secret in it " * 3
    assert registry.scrub(line) == line
    assert registry.scrub("x secret-value-004321-padding y") == f"x {REDACTED} y"
