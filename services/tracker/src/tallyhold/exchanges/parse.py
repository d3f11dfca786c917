"""Strict readers for exchange responses. An exchange answer is remote input: every field we rely on is checked
for presence and type, and every amount must be a finite, non-negative decimal below `MAX_AMOUNT`. Anything
else raises `Malformed`, which fails the whole operation with `malformed_response`: a sync that cannot read
one wallet is rejected rather than stored with a silently wrong total.

`Malformed` names the field by our own path (`result.permissions`), never by the value that was received. A field
of an object is read with the `*_at` readers (`amount_at(row, "free", where)`), which take the object's path once
and name the field `<where>.<name>` whether it is missing or unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

T = TypeVar("T")

# No real holding comes near this; 1e308 and friends are corruption, not wealth.
MAX_AMOUNT = Decimal(10) ** 30
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?$")


class Malformed(Exception):
    """An exchange answer we cannot read with certainty."""

    def __init__(self, where: str, problem: str = "missing or of the wrong type") -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Malformed(where, "expected an object")
    return value


def arr(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise Malformed(where, "expected a list")
    return value


def field(container: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in container or container[name] is None:
        raise Malformed(f"{where}.{name}", "missing")
    return container[name]


def text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Malformed(where, "expected a string")
    return value


def flag(value: Any, where: str) -> bool:
    """A JSON boolean, nothing else: `"false"`, `0` or `null` are not answers to "may this key trade?"."""
    if not isinstance(value, bool):
        raise Malformed(where, "expected a boolean")
    return value


def decimal(value: Any, where: str) -> Decimal:
    """A finite decimal from a JSON string or number; booleans, NaN, infinities and junk are refused."""
    if isinstance(value, bool) or value is None:
        raise Malformed(where, "expected a number")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float | Decimal):
        number = Decimal(str(value)) if isinstance(value, float) else value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise Malformed(where, "not a decimal number") from None
    else:
        raise Malformed(where, "not a decimal number")
    if not number.is_finite():
        raise Malformed(where, "not a finite number")
    if abs(number) >= MAX_AMOUNT:
        raise Malformed(where, "out of range")
    return number


def amount(value: Any, where: str) -> Decimal:
    """A holding: a decimal that must not be negative."""
    number = decimal(value, where)
    if number < 0:
        raise Malformed(where, "negative amount")
    return number


def optional_amount(container: Mapping[str, Any], name: str, where: str) -> Decimal:
    """An amount that venues omit when it is zero."""
    value = container.get(name)
    return Decimal(0) if value is None or value == "" else amount(value, f"{where}.{name}")


def integer(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise Malformed(where, "expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        return int(value.strip())
    raise Malformed(where, "expected an integer")


def epoch(value: Any, where: str, *, unit: str = "ms") -> datetime | None:
    """A Unix time (seconds or milliseconds) as aware UTC; 0 means "not set" on every venue that uses it."""
    number = integer(value, where)
    if number <= 0:
        return None
    seconds = number / 1000 if unit == "ms" else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise Malformed(where, "out of range") from None


def iso_time(value: Any, where: str) -> datetime | None:
    raw = text(value, where).strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(where, "not a timestamp") from None
    if parsed.tzinfo is None:
        raise Malformed(where, "timestamp without a time zone")
    return parsed.astimezone(UTC)


def csv(value: Any, where: str) -> list[str]:
    """`"read_only,trade"` → ["read_only", "trade"] (spaces stripped, empties dropped)."""
    return [part.strip() for part in text(value, where).split(",") if part.strip()]


def at(container: Mapping[str, Any], name: str, where: str, read: Callable[[Any, str], T]) -> T:
    """`container[name]`, present and read by `read`; errors name the field `<where>.<name>`."""
    return read(field(container, name, where), f"{where}.{name}")


def obj_at(container: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    return at(container, name, where, obj)


def arr_at(container: Mapping[str, Any], name: str, where: str) -> list[Any]:
    return at(container, name, where, arr)


def text_at(container: Mapping[str, Any], name: str, where: str) -> str:
    return at(container, name, where, text)


def flag_at(container: Mapping[str, Any], name: str, where: str) -> bool:
    return at(container, name, where, flag)


def decimal_at(container: Mapping[str, Any], name: str, where: str) -> Decimal:
    return at(container, name, where, decimal)


def amount_at(container: Mapping[str, Any], name: str, where: str) -> Decimal:
    return at(container, name, where, amount)


def integer_at(container: Mapping[str, Any], name: str, where: str) -> int:
    return at(container, name, where, integer)


def csv_at(container: Mapping[str, Any], name: str, where: str) -> list[str]:
    return at(container, name, where, csv)
