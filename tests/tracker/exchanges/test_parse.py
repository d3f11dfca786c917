"""Strict readers: every malformed amount is refused, never read as something else."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tallyhold.exchanges import parse
from tallyhold.exchanges.parse import Malformed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.50000000", Decimal("0.5")), ("12345.67", Decimal("12345.67")), (3, Decimal(3)), ("1e-8", Decimal("1e-8"))],
)
def test_amounts_read_exactly(raw, expected):
    assert parse.amount(raw, "x") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        "1e308",
        1e308,
        float("nan"),
        float("inf"),
        "-5",
        -5,
        "lots",
        "",
        " ",
        "0x10",
        "1,5",
        True,
        False,
        None,
        [],
        {},
        "1e999999",
    ],
)
def test_malformed_amounts_are_refused(raw):
    with pytest.raises(Malformed):
        parse.amount(raw, "x")


def test_the_field_is_named_not_the_value():
    with pytest.raises(Malformed) as caught:
        parse.amount("secret-looking-value", "balances[3].free")
    assert caught.value.where == "balances[3].free"
    assert "secret-looking-value" not in str(caught.value)


@given(st.one_of(st.text(), st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(), st.none()))
def test_any_input_is_a_valid_amount_or_malformed(raw):
    try:
        value = parse.amount(raw, "x")
    except Malformed:
        return
    assert value.is_finite()
    assert Decimal(0) <= value < parse.MAX_AMOUNT


@given(st.decimals(min_value=0, max_value=Decimal(10) ** 29, allow_nan=False, allow_infinity=False, places=18))
def test_every_plain_decimal_string_round_trips(value):
    assert parse.amount(format(value, "f"), "x") == value


def test_flags_are_booleans_only():
    assert parse.flag(True, "f") is True
    for raw in ("true", 1, 0, None, "false"):
        with pytest.raises(Malformed):
            parse.flag(raw, "f")


def test_epoch_and_iso_times():
    assert parse.epoch(0, "t") is None
    created = parse.epoch("1698645219000", "t")
    assert created is not None
    assert created.year == 2023
    seconds = parse.epoch(1772542900, "t", unit="s")
    assert seconds is not None
    assert seconds.year == 2026
    zoned = parse.iso_time("2023-05-15T03:21:05Z", "t")
    assert zoned is not None
    assert zoned.tzinfo is not None
    with pytest.raises(Malformed):
        parse.iso_time("2023-05-15T03:21:05", "t")  # a time without a zone is not a time we can trust
    with pytest.raises(Malformed):
        parse.epoch(10**30, "t")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({}, "missing"),
        ({"free": None}, "missing"),
        ({"free": "lots"}, "not a decimal number"),
        ({"free": "-1"}, "negative amount"),
    ],
)
def test_a_field_is_named_the_same_whether_missing_or_unreadable(row, problem):
    with pytest.raises(Malformed) as caught:
        parse.amount_at(row, "free", "account.balances[3]")
    assert (caught.value.where, caught.value.problem) == ("account.balances[3].free", problem)


def test_every_field_reader_reads_at_the_same_path():
    row = {"o": {}, "a": [], "t": "x", "f": True, "d": "-1.5", "m": "2", "i": "7", "c": "a, b"}
    assert parse.obj_at(row, "o", "r") == {}
    assert parse.arr_at(row, "a", "r") == []
    assert parse.text_at(row, "t", "r") == "x"
    assert parse.flag_at(row, "f", "r") is True
    assert parse.decimal_at(row, "d", "r") == Decimal("-1.5")
    assert parse.amount_at(row, "m", "r") == Decimal(2)
    assert parse.integer_at(row, "i", "r") == 7
    assert parse.csv_at(row, "c", "r") == ["a", "b"]
    for reader in (parse.obj_at, parse.arr_at, parse.flag_at, parse.decimal_at, parse.integer_at):
        with pytest.raises(Malformed) as caught:
            reader(row, "t", "r")  # "x" is none of these
        assert caught.value.where == "r.t"


def test_adapters_read_fields_with_the_at_readers():
    """`parse.amount(parse.field(row, "free", where), f"{where}.free")` spells the path twice, and the two spellings
    drifted apart: fields are read with `parse.amount_at(row, "free", where)`, which spells it once."""
    venues = Path(parse.__file__).parent / "venues"
    twice = re.compile(r"parse\.\w+\(\s*parse\.field\(")
    offenders = [path.name for path in sorted(venues.glob("*.py")) if twice.search(path.read_text())]
    assert offenders == []
