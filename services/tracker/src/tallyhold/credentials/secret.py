"""`Secret`: a decrypted value that never shows itself, alive only inside the scope that decrypted it.

repr, str, format and pydantic serialisation all give `**********`; `pickle` and `copy` refuse. `reveal()` is the
one way to the value, so every use can be found with a grep, and it fails once the scope that decrypted the
value has closed (`CredentialCipher.open`). Every value is registered with the log redaction filter on creation.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from tallyhold.logging import SecretRegistry
from tallyhold.logging import secrets as default_registry

MASK = "**********"


class SecretClosed(RuntimeError):
    """`reveal()` after the decrypt-and-use scope ended: plaintext must not outlive its use."""


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str, *, registry: SecretRegistry = default_registry) -> None:
        registry.add(value)
        self._value: str | None = value

    def reveal(self) -> str:
        if self._value is None:
            raise SecretClosed("this secret's scope has ended")
        return self._value

    def close(self) -> None:
        """Drop the reference to the plaintext (Python cannot wipe the string itself; nothing else holds it)."""
        self._value = None

    @property
    def closed(self) -> bool:
        return self._value is None

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("a Secret cannot be copied")

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        raise TypeError("a Secret cannot be copied")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls._coerce,
            core_schema.union_schema([core_schema.is_instance_schema(cls), core_schema.str_schema()]),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: MASK),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "password", "writeOnly": True}

    @classmethod
    def _coerce(cls, value: Secret | str) -> Secret:
        return value if isinstance(value, Secret) else cls(value)
