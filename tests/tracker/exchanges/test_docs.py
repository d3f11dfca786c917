"""The README's exchange tables are the adapters' own descriptions (exchanges/docs.py)."""

from pathlib import Path

from tallyhold.exchanges.docs import END, START, tables

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_tables_match_the_adapters() -> None:
    text = README.read_text()
    inside = text.split(START, 1)[1].split(END, 1)[0]
    assert inside.strip() == tables().strip(), "run `python -m tallyhold.exchanges.docs` and paste between the markers"


def test_every_venue_documents_its_wallets_and_gaps() -> None:
    for line in tables().splitlines():
        assert "|  |" not in line
    assert tables().count("- **") == 15


def test_every_venue_says_what_to_switch_on_and_leave_off() -> None:
    from tallyhold.exchanges.registry import ADAPTERS

    for adapter in ADAPTERS.values():
        assert adapter.info.enable, adapter.info.id
        assert adapter.info.leave_off, adapter.info.id
