"""The secret scan (tools/secretscan/scan.py, run by `make test` after pytest over the repository and the
test run's logs) fails on a planted real-looking secret of each kind it is meant to catch, names where it is
and never prints it; an allowlisted value passes only as that exact value."""

from __future__ import annotations

import secrets
import string
from pathlib import Path

import pytest

from tallyhold_sandbox.credentials import ec_private_key_pem
from tools.secretscan import scan


def planted() -> dict[str, str]:
    """Real-looking values, made at run time so this file itself holds none."""
    upper = string.ascii_uppercase + string.digits
    return {
        "AWS Access Key": "AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
        "GitHub Token": "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36)),
        "Private Key": ec_private_key_pem(),
        "Tallyhold access token": f"th_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
        "Vault token": "hvs." + secrets.token_urlsafe(64),
        "Basic Auth Credentials": f"postgresql://app:{secrets.token_urlsafe(12)}@db.internal:5432/tallyhold",
    }


@pytest.mark.parametrize("kind", sorted(planted()))
def test_a_planted_secret_fails_the_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    value = planted()[kind]
    log = tmp_path / "logs" / "instance.txt"  # not .log: the test run's own logs are scanned after it
    log.parent.mkdir()
    log.write_text(f'{{"event": "request", "detail": "harmless"}}\nconfig loaded: {value}\n')
    findings = scan.scan([log])
    assert [f.type for f in findings] == [kind]
    assert findings[0].line == 2
    assert scan.main([str(tmp_path / "logs")]) == 1
    output = capsys.readouterr()
    assert f"instance.txt:2: {kind}" in output.err
    assert value not in output.out + output.err
    for line in value.splitlines():
        assert line.strip("-") not in output.out + output.err or "PRIVATE KEY" in line


def test_an_allowlisted_value_passes_only_as_itself(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(f"key: AKIA{'Q' * 4}{secrets.token_hex(6).upper()}\n")
    second.write_text(f"key: AKIA{'Q' * 4}{secrets.token_hex(6).upper()}\n")
    findings = scan.scan([first, second])
    assert len(findings) == 2
    allowlist = {(findings[0].type, findings[0].hashed_secret): "documented test key"}
    assert scan.refused(findings, allowlist) == [findings[1]]


def test_the_shipped_allowlist_gives_a_reason_for_each_value() -> None:
    for reason in scan.load_allowlist().values():
        assert len(reason.split()) >= 5


def test_a_path_to_scan_must_exist(tmp_path: Path) -> None:
    assert scan.main([str(tmp_path / "not-there")]) == 2


def test_the_generic_heuristics_are_off_and_the_pragma_is_not_an_allowlist(tmp_path: Path) -> None:
    """An Alembic revision id is not flagged; a real key followed by detect-secrets' inline pragma still is."""
    source = tmp_path / "migration.py"
    pragma = "pragma: allowlist " + "secret"
    source.write_text(f'revision = "{secrets.token_hex(6)}"\nkey = "{planted()["AWS Access Key"]}"  # {pragma}\n')
    assert [f.type for f in scan.scan([source])] == ["AWS Access Key"]
