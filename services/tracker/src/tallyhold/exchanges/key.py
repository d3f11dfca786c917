"""`ExchangeKey`: an exchange API key, the one model from the pasted request body to the egress worker.

The connection routes take it as (part of) their body, the verifier and the sync send it to the worker, the
worker reads it back, and the credentials domain seals it and opens it again; nothing converts it field by field.

- Every part is a SecretStr: masked in repr, str, logs, `model_dump()` and JSON.
- Every part is registered with the log redaction filter of the process the key is created in (the API process
  when a body is parsed or a key decrypted, the egress worker when a request is read), before anything can log it.
- The wire format is its serialiser: in JSON, with `WIRE_CONTEXT` (what `EgressClient.call` passes when it
  writes the request line to the worker's stdin pipe), the parts are the plain values; without it, masked.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
)

from tallyhold.egress.protocol import reveals_secrets
from tallyhold.exchanges.keyformat import PRINTABLE_ASCII, TEXT_LINES, VISIBLE_ASCII
from tallyhold.logging import secrets

KEY_HINT_LENGTH = 4
PARTS = ("api_key", "api_secret", "passphrase", "uid")


def _documented(min_length: int, max_length: int, pattern: str) -> dict[str, JsonValue]:
    """OpenAPI for a key part whose checks run in code (`_length` below, `exchanges.keyformat` with its own error
    code): the document states them, so clients and fuzzers know what is accepted."""
    return {"minLength": min_length, "maxLength": max_length, "pattern": pattern}


class ExchangeKey(BaseModel):
    """An exchange API key as pasted. Documented in OpenAPI as write-only password fields without example.
    Surrounding whitespace (a pasted newline) is dropped. Short values are refused: they could not be told apart
    from ordinary text when masking logs, and no exchange issues them."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr = Field(
        description="The API key (its last 4 characters become `key_hint`).",
        json_schema_extra=_documented(6, 4096, VISIBLE_ASCII),
    )
    api_secret: SecretStr = Field(
        description="The API secret or private key (a PEM key may span lines).",
        json_schema_extra=_documented(6, 4096, TEXT_LINES),
    )
    passphrase: SecretStr | None = Field(
        None,
        description="The key's passphrase, where the exchange has one.",
        json_schema_extra=_documented(6, 4096, PRINTABLE_ASCII),
    )
    uid: SecretStr | None = Field(
        None,
        description="The account or key id, where the exchange needs one.",
        json_schema_extra=_documented(1, 256, VISIBLE_ASCII),
    )

    @field_validator("api_key", "api_secret", "passphrase", "uid", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_key", "api_secret", "passphrase")
    @classmethod
    def _length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 6 <= len(value.get_secret_value()) <= 4096:
            raise ValueError("must be between 6 and 4096 characters")
        return value

    @field_validator("uid")
    @classmethod
    def _uid_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 1 <= len(value.get_secret_value()) <= 256:
            raise ValueError("must be between 1 and 256 characters")
        return value

    def model_post_init(self, context: Any) -> None:
        for value in self.parts().values():
            if value is not None:
                secrets.add(value.get_secret_value())

    @field_serializer(*PARTS, when_used="json")
    def _wire(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        if value is None:
            return None
        return value.get_secret_value() if reveals_secrets(info.context) else str(value)

    def parts(self) -> dict[str, SecretStr | None]:
        """The key's own parts by name (a request body built on this model has other fields besides)."""
        return {name: getattr(self, name) for name in PARTS}

    def for_venue(self, needed: tuple[str, ...] | frozenset[str]) -> ExchangeKey:
        """Only the parts a venue uses: a passphrase or uid it does not take is not sent to it."""
        return ExchangeKey.model_construct(
            api_key=self.api_key,
            api_secret=self.api_secret,
            passphrase=self.passphrase if "passphrase" in needed else None,
            uid=self.uid if "uid" in needed else None,
        )

    @property
    def hint(self) -> str:
        """The last characters of the API key: what identifies a key to its owner, nothing more."""
        return self.api_key.get_secret_value()[-KEY_HINT_LENGTH:]
