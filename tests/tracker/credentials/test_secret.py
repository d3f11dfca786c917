"""Secrets never show themselves in a repr or str: Secret, the decrypted credentials, request bodies,
settings; and an exception logged inside the decrypt-and-use scope reaches the log output masked."""

from __future__ import annotations

import copy
import io
import json
import logging
import pickle
import uuid

import pytest
from pydantic import BaseModel, ValidationError

from tallyhold.connections.schemas import CredentialsReplace, ExchangeConnectionCreate
from tallyhold.credentials.secret import MASK, Secret, SecretClosed
from tallyhold.logging import JsonFormatter, RedactionFilter, SecretRegistry
from tallyhold.settings import Settings

# A made-up database password (a URL holding one is what these tests handle); not a credential of anything.
FAKE_PASSWORD = "s3cure-pw"

CANARY = "cnry-secret-type-9b1f2e7c4d/+="


def test_secret_never_shows_its_value() -> None:
    secret = Secret(CANARY, registry=SecretRegistry())
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret, format(secret, ">40")]  # noqa: UP031 - %-formatting is one of the ways under test
    assert all(CANARY not in text for text in shown)
    assert str(secret) == MASK
    assert secret.reveal() == CANARY


def test_secret_cannot_be_pickled_copied_or_serialised() -> None:
    secret = Secret(CANARY, registry=SecretRegistry())
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.copy(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)
    with pytest.raises(TypeError):
        json.dumps(secret)
    with pytest.raises(TypeError):
        hash(secret)


def test_secret_in_pydantic_models_is_masked_everywhere() -> None:
    class Holder(BaseModel):
        value: Secret

    holder = Holder(value=CANARY)
    for text in (repr(holder), str(holder), holder.model_dump_json(), json.dumps(holder.model_dump(mode="json"))):
        assert CANARY not in text
    schema = holder.model_json_schema()["properties"]["value"]
    assert (schema["type"], schema["format"], schema["writeOnly"]) == ("string", "password", True)
    assert holder.value.reveal() == CANARY


def test_closed_scope_drops_the_value() -> None:
    secret = Secret(CANARY, registry=SecretRegistry())
    assert CANARY not in repr(secret)
    secret.close()
    with pytest.raises(SecretClosed):
        secret.reveal()
    assert secret.closed


def test_secrets_register_with_the_redaction_filter_on_creation() -> None:
    registry = SecretRegistry()
    Secret(CANARY, registry=registry)
    assert registry.scrub(f"a {CANARY} b") == "a [REDACTED] b"


@pytest.mark.parametrize("model", [ExchangeConnectionCreate, CredentialsReplace])
def test_request_bodies_never_show_the_key(model: type[BaseModel]) -> None:
    fields = {"api_key": CANARY + "K", "api_secret": CANARY, "passphrase": CANARY + "P", "uid": CANARY + "U"}
    if model is ExchangeConnectionCreate:
        fields |= {"exchange": "binance", "label": "Main"}
    body = model.model_validate(fields)
    for text in (repr(body), str(body), body.model_dump_json(), str(body.model_dump())):
        assert CANARY not in text


async def test_an_exception_logged_inside_the_decrypt_scope_is_masked(cipher) -> None:
    record = uuid.uuid4()
    value = f"cnry-logged-{uuid.uuid4().hex}"
    ciphertexts = await cipher.encrypt_fields(record, {"api_secret": value})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.decrypt_scope")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        async with cipher.open(record, ciphertexts) as opened:
            plaintext = opened["api_secret"].reveal()
            try:
                raise RuntimeError(f"exchange said no to {plaintext}")  # a careless library error message
            except RuntimeError:
                logger.exception("using the key failed: %s", plaintext, extra={"key": plaintext})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "using the key failed" in output
    assert "RuntimeError" in output
    assert value not in output


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"VAULT_AUTH": "token"}, "VAULT_KEY, VAULT_TOKEN"),
        ({"VAULT_AUTH": "approle", "VAULT_KEY": "t_00ff", "VAULT_ROLE_ID": "r"}, "VAULT_SECRET_ID"),
        ({"VAULT_AUTH": "kubernetes", "VAULT_KEY": "t_00ff"}, "VAULT_K8S_ROLE"),
    ],
)
def test_settings_refuse_an_incomplete_vault_login(values: dict[str, str], missing: str) -> None:
    base = {
        "DATABASE_URL": f"postgresql://app:{FAKE_PASSWORD}@127.0.0.1:5432/db",
        "DB_SCHEMA": "t_00ff",
        "CUSTOMER_ID": "t_00ff",
        "VAULT_ADDR": "http://127.0.0.1:8200",
    }
    with pytest.raises(ValidationError, match=missing):
        Settings.model_validate({**base, **values})
