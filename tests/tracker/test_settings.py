"""Settings fail closed: required values have no default, placeholders are refused outside development, and
an error never prints the value it refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from tallyhold.config_doc import markdown_table
from tallyhold.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Made-up database passwords (URLs holding them are what these tests handle); not credentials of anything.
FAKE_PASSWORD = "s3cr3t-Pa55word"
FAKE_OWNER_PASSWORD = "0wn3r-Pa55word"
PLACEHOLDER = "changeme"  # refused outside development
GOOD: dict[str, Any] = {
    "DATABASE_URL": f"postgresql://app:{FAKE_PASSWORD}@127.0.0.1:5432/db",
    "DB_SCHEMA": "t_abcd",
    "CUSTOMER_ID": "t_abcd",
}


def test_required_values_have_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TALLYHOLD_"):
            monkeypatch.delenv(key)
    with pytest.raises(ValidationError) as caught:
        Settings()
    missing = {error["loc"][-1] for error in caught.value.errors() if error["type"] == "missing"}
    assert missing == {"DATABASE_URL", "DB_SCHEMA", "CUSTOMER_ID"}


@pytest.mark.parametrize("password", ["changeme", "password", "postgres", "CHANGEME"])
def test_placeholder_password_refused_outside_development(password: str) -> None:
    url: Any = f"postgresql://app:{password}@127.0.0.1/db"
    with pytest.raises(ValidationError) as caught:
        Settings(**{**GOOD, "DATABASE_URL": url})
    assert f":{password}@" not in str(caught.value)
    Settings(**{**GOOD, "DATABASE_URL": url, "ENV": "development"})


@pytest.mark.parametrize("url", [f"postgresql://owner:{PLACEHOLDER}@127.0.0.1/db", "postgresql://owner@127.0.0.1/db"])
def test_placeholder_migration_password_refused_outside_development(url: str) -> None:
    with pytest.raises(ValidationError, match="MIGRATION_DATABASE_URL") as caught:
        Settings(**{**GOOD, "MIGRATION_DATABASE_URL": url})
    assert "changeme" not in str(caught.value)
    Settings(**{**GOOD, "MIGRATION_DATABASE_URL": url, "ENV": "development"})
    real = f"postgresql://owner:{FAKE_OWNER_PASSWORD}@127.0.0.1/db"
    assert (
        Settings(**{**GOOD, "MIGRATION_DATABASE_URL": real}).database.migration_engine_url.password
        == FAKE_OWNER_PASSWORD
    )


def test_placeholder_vault_token_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(**GOOD, VAULT_TOKEN="root")


def test_secrets_never_in_repr() -> None:
    settings = Settings(**GOOD, VAULT_TOKEN=SecretStr("hvs.realistic-token-value"))
    text = repr(settings) + str(settings) + settings.model_dump_json()
    assert "s3cr3t-Pa55word" not in text
    assert "realistic-token-value" not in text


def test_lists_and_overrides_parse_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLYHOLD_EGRESS_IPS", "203.0.113.7, 2001:db8::1")
    monkeypatch.setenv("TALLYHOLD_PRICE_VENUES", "kraken,binance")
    monkeypatch.setenv("TALLYHOLD_EXCHANGE_API_OVERRIDES", '{"binance": "http://127.0.0.1:9999"}')
    settings = Settings(**GOOD)
    assert [str(ip) for ip in settings.egress.ips] == ["203.0.113.7", "2001:db8::1"]
    assert settings.prices.venues == ["kraken", "binance"]
    assert str(settings.exchanges.api_overrides["binance"]).startswith("http://127.0.0.1:9999")


@pytest.mark.parametrize(
    "command", [("tallyhold.cli", "migrate"), ("tallyhold.cli", "serve"), ("tallyhold.serve",)], ids=" ".join
)
def test_cli_reports_bad_settings_without_values(command: tuple[str, ...]) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "TALLYHOLD_DATABASE_URL": f"postgresql://app:{PLACEHOLDER}@127.0.0.1/db",
        "TALLYHOLD_DB_SCHEMA": "t_abcd",
        "TALLYHOLD_CUSTOMER_ID": "t_abcd",
    }
    result = subprocess.run([sys.executable, "-m", *command], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: TALLYHOLD_")
    assert "DATABASE_URL" in result.stderr
    assert "changeme" not in result.stderr + result.stdout


def test_readme_configuration_table_matches_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- config-table:start -->\n(.*?)<!-- config-table:end -->", readme, re.S)
    assert match, "README.md lost its configuration table markers"
    assert match.group(1) == markdown_table(), "regenerate it: tallyhold config-table"
