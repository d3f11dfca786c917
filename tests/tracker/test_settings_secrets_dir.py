"""TALLYHOLD_SECRETS_DIR: secrets as files (how containers get them). A value read from a file is the same
SecretStr as one from the environment, meets the same placeholder checks, and never shows in a repr or error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from tallyhold.settings import EVM_CHAINS, Settings, secret_bearing_settings

PASSWORD = "f1le-Pa55word-" + "x" * 8
ENV_PASSWORD = "env-Pa55word-123"  # made up, like PASSWORD: the URL tests need one in a variable
IDENTITY = {"TALLYHOLD_DB_SCHEMA": "t_abcd", "TALLYHOLD_CUSTOMER_ID": "t_abcd"}


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("TALLYHOLD_"):
            monkeypatch.delenv(key)
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    (directory / "TALLYHOLD_DATABASE_URL").write_text(f"postgresql://app:{PASSWORD}@db:5432/tallyhold\n")
    monkeypatch.setenv("TALLYHOLD_SECRETS_DIR", str(directory))
    return directory


def test_values_come_from_files_and_stay_secret(secrets_dir: Path) -> None:
    (secrets_dir / "TALLYHOLD_VAULT_SECRET_ID").write_text("a1b2c3d4-secret-id-from-a-file\n")
    settings = Settings()
    assert isinstance(settings.database.url, SecretStr)
    assert settings.database.engine_url.password == PASSWORD  # the trailing newline of the file is not part of it
    assert settings.vault.secret_id is not None
    assert settings.vault.secret_id.get_secret_value() == "a1b2c3d4-secret-id-from-a-file"
    assert PASSWORD not in repr(settings)
    assert "secret-id-from-a-file" not in repr(settings)


def test_placeholder_in_a_file_is_refused(secrets_dir: Path) -> None:
    (secrets_dir / "TALLYHOLD_VAULT_SECRET_ID").write_text("changeme\n")
    with pytest.raises(ValidationError, match="VAULT_SECRET_ID is a placeholder") as caught:
        Settings()
    assert "changeme" not in str(caught.value).replace("VAULT_SECRET_ID is a placeholder", "")
    placeholder = "password"  # the placeholder the settings refuse, not a credential
    (secrets_dir / "TALLYHOLD_DATABASE_URL").write_text(f"postgresql://app:{placeholder}@db/tallyhold")
    (secrets_dir / "TALLYHOLD_VAULT_SECRET_ID").unlink()
    with pytest.raises(ValidationError, match="DATABASE_URL must carry a real password"):
        Settings()


def test_a_missing_folder_is_refused_not_ignored(secrets_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLYHOLD_SECRETS_DIR", str(secrets_dir / "missing"))
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert {error["loc"][-1] for error in caught.value.errors()} == {"SECRETS_DIR", "DATABASE_URL"}


def test_environment_wins_over_a_file(secrets_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLYHOLD_DATABASE_URL", f"postgresql://app:{ENV_PASSWORD}@db/tallyhold")
    assert Settings().database.engine_url.password == ENV_PASSWORD


def test_cli_error_names_the_setting_never_the_file_value(secrets_dir: Path) -> None:
    (secrets_dir / "TALLYHOLD_VAULT_SECRET_ID").write_text("Changeme\n")
    result = subprocess.run(
        [sys.executable, "-m", "tallyhold.cli", "migrate"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert result.returncode == 2
    assert "VAULT_SECRET_ID is a placeholder" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert "Changeme" not in result.stderr + result.stdout


def test_every_url_and_every_secret_is_secret_bearing() -> None:
    """What a deployment must hand over as files: an RPC or Esplora URL usually carries a provider's key."""
    bearing = secret_bearing_settings()
    providers = {f"TALLYHOLD_EVM_RPC_{chain.upper()}" for chain in EVM_CHAINS} | {"TALLYHOLD_ESPLORA_URL"}
    assert providers | {"TALLYHOLD_DATABASE_URL", "TALLYHOLD_VAULT_TOKEN", "TALLYHOLD_VAULT_SECRET_ID"} <= bearing
    assert not bearing & {"TALLYHOLD_LOG_LEVEL", "TALLYHOLD_SYNC_INTERVAL_SECONDS", "TALLYHOLD_CUSTOMER_ID"}
