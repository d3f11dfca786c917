"""`ExchangeKey`, the one key model: masked in every dump but the egress request line, registered with the log
redaction when it is created, and the same model as the connection routes' request body."""

from __future__ import annotations

import json
import secrets as random_secrets

from tallyhold.connections.schemas import ExchangeConnectionCreate
from tallyhold.egress.protocol import WIRE_CONTEXT
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.wire import VerifyRequest
from tallyhold.logging import secrets


def fresh_parts() -> dict[str, str]:
    """Random parts in a shape no other test registers: the log redaction is one registry for the whole process,
    and a readable prefix such as "secret-" would be masked by another test's short secret (say "secret-b")."""
    return {
        "api_key": "Kq" + random_secrets.token_hex(12).upper(),
        "api_secret": "Sq" + random_secrets.token_hex(16).upper(),
        "passphrase": "Pq" + random_secrets.token_hex(8).upper(),
        "uid": "Uq" + random_secrets.token_hex(6).upper(),
    }


def test_no_part_shows_outside_the_wire() -> None:
    parts = fresh_parts()
    key = ExchangeKey.model_validate(parts)
    request = VerifyRequest(exchange="okx", key=key)
    shown = [
        repr(key),
        str(key),
        str(key.model_dump()),
        key.model_dump_json(),
        request.model_dump_json(),
        repr(request),
    ]
    shown.append(json.dumps(request.model_dump(mode="json")))
    for value in parts.values():
        assert not any(value in text for text in shown)


def test_the_wire_format_is_the_serialiser_under_the_wire_context() -> None:
    parts = fresh_parts()
    request = VerifyRequest(exchange="okx", key=ExchangeKey.model_validate(parts))
    assert request.model_dump(mode="json", context=WIRE_CONTEXT)["key"] == parts
    # ... and the worker reads it back into the same model.
    assert VerifyRequest.model_validate_json(request.model_dump_json(context=WIRE_CONTEXT)) == request


def test_every_part_is_registered_with_the_log_redaction_on_creation() -> None:
    parts = fresh_parts()
    line = " ".join(parts.values())
    assert secrets.scrub(line) == line
    ExchangeKey.model_validate(parts)
    assert not any(value in secrets.scrub(line) for value in parts.values())


def test_the_request_body_is_the_key_and_only_its_parts_go_to_a_venue() -> None:
    parts = fresh_parts()
    body = ExchangeConnectionCreate.model_validate({"exchange": "binance", "label": "Main", **parts})
    assert body.parts() == ExchangeKey.model_validate(parts).parts()
    for_binance = body.for_venue(())
    assert type(for_binance) is ExchangeKey
    assert for_binance.model_dump(mode="json", context=WIRE_CONTEXT) == {
        "api_key": parts["api_key"],
        "api_secret": parts["api_secret"],
        "passphrase": None,
        "uid": None,
    }
    assert not any(value in body.model_dump_json() for value in parts.values())
