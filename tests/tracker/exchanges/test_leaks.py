"""No key part ever reaches a log line, an error, a reply or a repr, in any encoding, whatever the log level
and whatever goes wrong (reprs, and ccxt's own debug logging), on the exchange paths."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import BaseModel

from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressError
from tallyhold.exchanges.schemas import BalancesRequest, LedgerReply, LedgerRequest, VerifyReply, VerifyRequest
from tallyhold.logging import encodings
from tallyhold.sources.models import SourceBalances
from tallyhold_sandbox import Sandbox
from tests.tracker.exchanges.conftest import Venue

NUMERIC_AND_PERMISSION_FIELDS = (
    "free", "balance", "equity", "bal", "value", "enableReading", "permissions", "readOnly", "perm", "can_view",
)  # fmt: skip
FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("server_error", {}),
    ("malformed_json", {}),
    ("set_fields", {"fields": dict.fromkeys(NUMERIC_AND_PERMISSION_FIELDS, "NaN")}),
    ("rate_limit", {"retry_after": 60}),
    ("http", {"status": 401}),
]


@pytest.mark.parametrize("venue", ["binance", "kraken", "bybit", "okx", "coinbase"])
async def test_no_key_part_leaks(
    sandbox: Sandbox, egress: EgressClient, caplog: pytest.LogCaptureFixture, venue: str
) -> None:
    caplog.set_level(logging.DEBUG)
    v = Venue(sandbox, egress, venue)
    key = v.key(balances={"spot": {"BTC": "1"}} if venue in {"binance", "kraken", "coinbase"} else {})
    parts = [key.api_key.get_secret_value(), key.api_secret.get_secret_value()]
    if key.passphrase is not None:
        parts.append(key.passphrase.get_secret_value())
    seen: list[str] = [repr(key), str(key), key.model_dump_json(exclude={"api_key", "api_secret", "passphrase"})]

    seen.append((await v.verify(key)).model_dump_json())
    seen.append((await v.balances(key)).model_dump_json())
    if venue == "kraken":
        ledger = LedgerRequest(exchange="kraken", key=key)
        seen.append((await egress.call("exchange.ledger", ledger, LedgerReply)).model_dump_json())
    for fault, spec in FAULTS:
        fault_id = v.control.add_fault(fault, api_key=key.api_key.get_secret_value(), **spec)
        verify = VerifyRequest(exchange=venue, key=key)
        balances = BalancesRequest(exchange=venue, key=key, check_permissions=True)
        calls: tuple[tuple[str, BaseModel, type[BaseModel]], ...] = (
            ("exchange.verify", verify, VerifyReply),
            ("exchange.balances", balances, SourceBalances),
        )
        for op, request, reply in calls:
            with pytest.raises(EgressError) as caught:
                await egress.call(op, request, reply)
            seen += [repr(caught.value), str(caught.value), caught.value.failure.model_dump_json()]
        v.control.clear_faults(fault_id)

    everything = "\n".join([*seen, caplog.text, *(str(r.__dict__) for r in caplog.records)])
    for part in parts:
        for form in encodings(part):
            assert form not in everything
