"""Forms in and out: the browser's fields become the API's own request models (same validation, same rules), and
any refusal becomes sentences for the page, never the input it refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from tallyhold.api.error_handlers import safe_message
from tallyhold.errors import TallyholdError

# What the page says about each field pydantic refused (the API's `fields` entries, in words).
FIELD_NAMES = {
    "api_key": "API key",
    "api_secret": "API secret",
    "passphrase": "Passphrase",
    "uid": "UID",
    "label": "Label",
    "asset": "Asset",
    "amount": "Amount",
    "price": "Price",
    "chain": "Chain",
    "address": "Address",
    "xpub": "Extended public key",
    "exchange": "Exchange",
}


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    switch_off: list[str] = field(default_factory=list)
    switch_on: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


def fields_of(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields that were filled in; an empty field is left out (the model's default applies)."""
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            values[name] = value
    return values


def refusal(exc: TallyholdError | ValidationError) -> Refusal:
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "form"
            # The API's rule: a message that would quote the input is replaced by a fixed sentence.
            problems.append(f"{FIELD_NAMES.get(name, name)}: {safe_message(error['type'], error)}")
        return Refusal(code="invalid_request", message="Some fields are not valid.", fields=problems)
    details: dict[str, Any] = exc.details
    return Refusal(
        code=exc.code,
        message=exc.message,
        switch_off=[str(item) for item in details.get("switch_off", [])],
        switch_on=[str(item) for item in details.get("switch_on", [])],
        fields=[
            FIELD_NAMES.get(str(item), str(item)) + ": required by this exchange" for item in details.get("missing", [])
        ],
    )
