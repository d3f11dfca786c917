"""Canary sweep: no planted secret shows up anywhere, in any encoding (and, along the way: no 422 echo of the input,
no secret read back, none in ccxt's debug logs, only ciphertext in the secret columns, swapped ciphertexts refused).

Unique secrets are planted through every credential route and flow of a real instance: creation accepted and
refused (write permissions, unknown key, unsupported venue, every kind of invalid body, bad JSON, oversized
body, no token), listing, syncs through the egress worker and unmodified ccxt against the sandbox venues, a
key rotation with rewrap, a ciphertext swapped between rows, replacement, Vault sealed (503s) and unsealed,
and deletion. Then not one encoding of any of them (raw, base64 standard/URL-safe/unpadded, URL-encoded, hex,
JSON-escaped) may appear in: the instance's log output at DEBUG (the API process and the egress worker, and
every raw log record before redaction), any response body or header, /metrics, /openapi.json, a pg_dump of
the schema, Postgres' server log, or OpenBao's audit log; and every secret column holds `vault:vN:` ciphertext only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY, generate_latest
from psycopg import sql

from tallyhold.logging import JsonStderrHandler, configure_logging
from tallyhold_provision import rotation
from tallyhold_provision.local.openbao import LocalOpenBao
from tests.fixtures.encodings import variants
from tests.fixtures.instance import instance_settings, issue_token
from tests.fixtures.platform import DATABASE
from tests.fixtures.vault import VaultTenant, provision_vault_tenant

CIPHERTEXT = re.compile(r"^vault:v\d+:[A-Za-z0-9+/=]+$")
SECRET_COLUMNS = ("api_key_ct", "api_secret_ct", "passphrase_ct", "uid_ct")
PLANTED: list[str] = []


def canary(kind: str, tail: str = "") -> str:
    value = f"cnry{kind}{secrets.token_hex(16)}{tail}"
    PLANTED.append(value)
    return value


def key_set(*, with_uid: bool = True) -> dict[str, str]:
    """One key's worth of canaries; the tails make every encoding differ from the raw value."""
    planted = {
        "api_key": canary("K", "+/="),
        "api_secret": canary("S", "/+=é"),
        "passphrase": canary("P", '"q\\ /+=&%'),
    }
    if with_uid:
        planted["uid"] = canary("U", "<&>")
    return planted


@pytest.fixture(scope="module")
def bao(tmp_path_factory) -> Iterator[LocalOpenBao]:
    """Its own OpenBao: the sweep seals it, and reads an audit log that holds only this module's traffic."""
    server = LocalOpenBao(tmp_path_factory.mktemp("canary") / "openbao")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def vault(bao, tenant) -> VaultTenant:
    return provision_vault_tenant(bao, tenant.customer_id)


@pytest.fixture(scope="module")
def settings(tenant, vault, sandbox):
    return instance_settings(
        tenant,
        **vault.settings(),
        EXCHANGE_API_OVERRIDES={venue: sandbox.url(venue) for venue in ("binance", "okx")},
        PRICE_VENUES="binance",
        LOG_LEVEL="DEBUG",  # the sweep reads every log line the instance can write
        MAX_BODY_BYTES=4096,
    )


@pytest.fixture
def instance_logging() -> Iterator[None]:
    """Restores the root logger after a test that set up the instance's own logging (`configure_logging`)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if isinstance(handler, JsonStderrHandler) and handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


class Recorder:
    """Every response the sweep gets: status line, headers and body."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append(f"{response.status_code}\n{headers}\n{response.text}")


@pytest_asyncio.fixture
async def api(app, settings, clean_tenant) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    token = await issue_token(settings, "canary")
    recorder = Recorder()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://instance.test",
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [recorder]},
    ) as client:
        yield client, recorder


async def sync_all(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """One whole POST /v1/sync, waited for; the sources' status by label."""
    deadline = time.monotonic() + 60
    while (await client.get("/v1/sync/status")).json()["running"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert (await client.post("/v1/sync")).json() == {"status": "started"}
    while True:
        status = (await client.get("/v1/sync/status")).json()
        if not status["running"] and status["last_run"] and status["last_run"]["finished_at"]:
            return {source["label"]: source for source in status["sources"]}
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


def secret_columns(postgres, schema: str) -> list[tuple[str, str | None]]:
    with postgres.connect(DATABASE) as admin:
        query = sql.SQL("SELECT {} FROM {}.connections").format(
            sql.SQL(", ").join(map(sql.Identifier, SECRET_COLUMNS)), sql.Identifier(schema)
        )
        return [
            (column, value) for row in admin.execute(query) for column, value in zip(SECRET_COLUMNS, row, strict=True)
        ]


async def test_canary_sweep(api, app, bao, vault, sandbox, postgres, tenant, settings, caplog, capfd, instance_logging):
    # The instance's own log set-up (JSON on stderr, redaction filter, pinned third-party loggers) at DEBUG,
    # made here (not in a fixture) so that its handler writes to this test's captured stderr.
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    client, recorder = api
    binance, okx = sandbox.control("binance"), sandbox.control("okx")

    # -- accepted: Binance (every field planted, even those Binance does not use) and OKX (with passphrase) ---
    main = key_set()
    binance.add_key(main["api_key"], main["api_secret"], balances={"spot": {"BTC": "0.5", "USDT": "100"}})
    created = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "A main", **main})
    assert created.status_code == 201, created.text
    okx_key = key_set(with_uid=False)
    okx.add_key(okx_key["api_key"], okx_key["api_secret"], passphrase=okx_key["passphrase"],
                balances={"trading": {"ETH": "2"}})  # fmt: skip
    second = await client.post("/v1/connections/exchange", json={"exchange": "okx", "label": "B okx", **okx_key})
    assert second.status_code == 201, second.text

    # -- refused, each before anything is stored --------------------------------------------------------------
    trading = key_set()
    binance.add_key(trading["api_key"], trading["api_secret"], permissions=("read", "trade", "withdraw"))
    refused = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "x", **trading})
    assert refused.json()["error"]["code"] == "write_permissions"
    unknown = key_set()
    refused = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "x", **unknown})
    assert refused.json()["error"]["code"] == "invalid_credentials"
    refused = await client.post("/v1/connections/exchange", json={"exchange": "nowhere", "label": "x", **key_set()})
    assert refused.json()["error"]["code"] == "unsupported_exchange"
    no_passphrase = key_set()
    del no_passphrase["passphrase"]
    refused = await client.post("/v1/connections/exchange", json={"exchange": "okx", "label": "x", **no_passphrase})
    assert refused.json()["error"]["code"] == "invalid_credentials"
    bad = key_set()
    for body in (
        {"exchange": "binance", "label": "x", "api_key": bad["api_key"]},
        {"exchange": "binance", "label": "x", "api_key": bad["api_key"], "api_secret": 42, "uid": bad["uid"]},
        {"exchange": "binance", "label": "x", **bad, "comment": bad["api_secret"]},
        {"exchange": "binance", "label": "x", **bad, bad["passphrase"]: 1},
        {"exchange": "binance", "label": ["x"], **bad},
    ):
        assert (await client.post("/v1/connections/exchange", json=body)).status_code == 422
    raw = json.dumps({"exchange": "binance", "label": "x", "api_key": bad["api_key"], "api_secret": bad["uid"]})[:-2]
    response = await client.post("/v1/connections/exchange", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    oversized = {"exchange": "binance", "label": "x", **bad, "padding": bad["api_secret"] * 200}
    assert (await client.post("/v1/connections/exchange", json=oversized)).status_code == 413
    anonymous = await client.post(
        "/v1/connections/exchange", json={"exchange": "binance", "label": "x", **bad}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401

    # -- reads and syncs --------------------------------------------------------------------------------------
    for path in ("/v1/connections", f"/v1/connections/{created.json()['id']}", "/openapi.json"):
        assert (await client.get(path)).status_code == 200
    sources = await sync_all(client)
    assert {label: s["state"] for label, s in sources.items()} == {"A main": "ok", "B okx": "ok"}
    for path in ("/v1/balances", "/v1/networth", "/v1/sync/status"):
        assert (await client.get(path)).status_code == 200

    # -- rotation with rewrap (the provisioner's library), then a sync on the new key version -----------------
    with postgres.connect(DATABASE) as admin:
        report = rotation.rotate_and_rewrap(bao.admin_client(), vault.names, admin, tenant.schema)
    assert report.rewrapped == 7  # Binance row: 4 fields, OKX row: 3
    rotated = await sync_all(client)
    assert [rotated[label]["state"] for label in ("A main", "B okx")] == ["ok", "ok"]

    # -- a ciphertext swapped between rows: the OKX row gets the Binance row's api_secret ---------------------
    failures = REGISTRY.get_sample_value("tallyhold_vault_decrypt_failures_total", {"reason": "authentication_failed"})
    with postgres.connect(DATABASE) as admin:
        admin.execute(
            sql.SQL("UPDATE {0}.connections SET api_secret_ct = (SELECT api_secret_ct FROM {0}.connections "
                    "WHERE id = %s) WHERE id = %s").format(sql.Identifier(tenant.schema)),
            (created.json()["id"], second.json()["id"]),
        )  # fmt: skip
    swapped = (await sync_all(client))["B okx"]
    assert (swapped["state"], swapped["last_error"]) == ("error", "credentials_unreadable")
    assert (await client.get(f"/v1/connections/{second.json()['id']}")).json()["status"] == "error"
    after = REGISTRY.get_sample_value("tallyhold_vault_decrypt_failures_total", {"reason": "authentication_failed"})
    assert (after or 0) > (failures or 0)

    # -- replacement: refused (write permissions), then accepted with a fresh key -----------------------------
    risky = key_set(with_uid=False)
    okx.add_key(risky["api_key"], risky["api_secret"], passphrase=risky["passphrase"], permissions=("read", "trade"))
    path = f"/v1/connections/{second.json()['id']}/credentials"
    assert (await client.put(path, json=risky)).json()["error"]["code"] == "write_permissions"
    fresh = key_set(with_uid=False)
    okx.add_key(
        fresh["api_key"], fresh["api_secret"], passphrase=fresh["passphrase"], balances={"trading": {"ETH": "1"}}
    )
    replaced = await client.put(path, json=fresh)
    assert replaced.status_code == 200, replaced.text
    assert (await sync_all(client))["B okx"]["state"] == "ok"

    # -- Vault sealed: credential writes are refused with 503, syncs pause; then unsealed ----------------------
    during = key_set()
    binance.add_key(during["api_key"], during["api_secret"])
    bao.seal()
    try:
        while (await client.get("/readyz")).status_code != 503:
            pass
        down = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "x", **during})
        assert down.json()["error"]["code"] == "vault_unavailable"
        assert (await client.put(path, json=during)).json()["error"]["code"] == "vault_unavailable"
        assert (await sync_all(client))["A main"]["last_error"] == "vault_unavailable"
    finally:
        bao.unseal()
    while (await client.get("/readyz")).status_code != 200:
        pass

    # -- what is stored: ciphertext only ------------------------------------------------------------------------
    columns = secret_columns(postgres, tenant.schema)
    assert len([value for _, value in columns if value is not None]) == 7
    assert all(CIPHERTEXT.fullmatch(value) for _, value in columns if value is not None)
    dump_before_delete = postgres.pg_dump("-n", tenant.schema, database=DATABASE)

    # -- deletion -----------------------------------------------------------------------------------------------
    for connection in (await client.get("/v1/connections")).json()["items"]:
        assert (await client.delete(f"/v1/connections/{connection['id']}")).status_code == 204
    assert secret_columns(postgres, tenant.schema) == []

    # -- the sweep ------------------------------------------------------------------------------------------------
    captured = capfd.readouterr()
    records = "\n".join(
        f"{record.getMessage()} {record.__dict__!r} {record.exc_text or ''}" for record in caplog.records
    )
    places = {
        "log output (API process and egress worker)": captured.out + captured.err,
        "log records": records,
        "responses": "\n".join(recorder.seen),
        "/metrics": generate_latest(REGISTRY).decode(),
        "/openapi.json": (await client.get("/openapi.json")).text,
        "pg_dump": dump_before_delete + postgres.pg_dump("-n", tenant.schema, database=DATABASE),
        "OpenBao audit log": bao.audit_log.read_text(),
        "Postgres server log": postgres.log.read_text(errors="replace"),
    }
    # A sweep of empty places proves nothing: the captured output must be the instance's own JSON log lines, with
    # the events every flow above logs, and each of them must also be among the raw records swept.
    output = places["log output (API process and egress worker)"]
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    events = {(entry["logger"], entry["event"]) for entry in logged}
    assert {
        ("tallyhold.access", "request"),
        ("tallyhold.exchanges", "exchange key refused"),
        ("tallyhold.sync", "sync failed"),
        ("tallyhold.credentials", "credentials unreadable"),
        ("tallyhold.credentials.vault", "vault unavailable"),
        ("tallyhold.credentials.vault", "vault available"),
    } <= events
    assert events <= {(record.name, record.getMessage()) for record in caplog.records}
    assert len(recorder.seen) > 40
    leaks = [
        f"{encoding} of planted secret #{index} in {place}"
        for index, value in enumerate(PLANTED)
        for encoding, form in variants(value).items()
        for place, text in places.items()
        if form in text
    ]
    assert leaks == []
