"""Value types shared by the domains: money as Decimal (JSON strings), validated codes and labels."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, localcontext
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

# Enough digits for a 10^30 token supply at 18 decimals times a price with 18 decimals, with room to spare.
MONEY_PRECISION = 120


def decimal_to_str(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros: `Decimal("1.500")` → "1.5", `Decimal("1E+2")` → "100"."""
    with localcontext(prec=MONEY_PRECISION):
        normalized = value.normalize()
    text = format(normalized, "f")
    return "0" if text in {"-0", "0"} else text


Money = Annotated[Decimal, PlainSerializer(decimal_to_str, return_type=str, when_used="json")]

MAX_AMOUNT = Decimal(10) ** 20
# What a customer may enter: non-negative, finite, at most 18 decimals, below 10^20.
AmountIn = Annotated[
    Decimal,
    Field(
        ge=0,
        lt=MAX_AMOUNT,
        decimal_places=18,
        allow_inf_nan=False,
        description="A non-negative decimal string with at most 18 decimal places.",
        json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d{1,18})?$", "examples": ["1.25"]},
    ),
]

_ASSET = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,23}$")


def _asset_code(value: str) -> str:
    value = value.strip().upper()
    if not _ASSET.fullmatch(value):
        raise ValueError("asset codes are 1-24 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


AssetCode = Annotated[str, StringConstraints(max_length=24), AfterValidator(_asset_code)]


def _clean_label(value: str) -> str:
    value = value.strip()
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError("labels cannot contain control or format characters")
    if not value:
        raise ValueError("labels cannot be empty")
    return value


Label = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_clean_label)]
