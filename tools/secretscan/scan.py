"""Secret scan of the repository and of what the test run generates (no secret in the repository, the
release or test output).

    python tools/secretscan/scan.py [--repository] [PATH ...]

Scans every file git tracks (`--repository`) and each PATH (a file, or a folder read recursively: logs of the test run,
rendered manifests, unpacked images), with detect-secrets' format detectors and Tallyhold's own
(tools/secretscan/detectors.py: access tokens, Vault tokens). Prints `path:line: type` for each finding, never
the value, and exits 1 when one is not on the allowlist (tools/secretscan/allowlist.json: one exact value each,
by detect-secrets' SHA-1 of it, with the reason it is not a secret). A PATH that does not exist is an error:
a scan of nothing proves nothing.

Left out on purpose: detect-secrets' generic heuristics (Base64HighEntropyString, HexHighEntropyString,
KeywordDetector), which flag Alembic revision ids, Bitcoin and EVM test vectors, hashes and every
`secret = "..."` placeholder in tests, so that only a broad allowlist could silence them; IPPublicDetector (a
public IP is not a secret); and the `pragma: allowlist secret` comment filter, so that this allowlist is the
only one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import transient_settings

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ALLOWLIST = HERE / "allowlist.json"
FORMAT_DETECTORS = (
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
OWN_DETECTORS = ("TallyholdAccessTokenDetector", "VaultTokenDetector")
FILTERS = (
    "detect_secrets.filters.heuristic.is_indirect_reference",
    "detect_secrets.filters.heuristic.is_likely_id_string",
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_not_alphanumeric_string",
    "detect_secrets.filters.heuristic.is_potential_uuid",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_sequential_string",
    "detect_secrets.filters.heuristic.is_swagger_file",
    "detect_secrets.filters.heuristic.is_templated_secret",
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    type: str
    hashed_secret: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.type}"


def tracked_files(root: Path = ROOT) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout  # noqa: S607
    return [root / name for name in listed.decode().split("\0") if name and (root / name).is_file()]


def files_under(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: nothing to scan there")
        found.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return found


def scan(files: Sequence[Path]) -> list[Finding]:
    detectors = HERE / "detectors.py"
    config = {
        "plugins_used": [{"name": name} for name in FORMAT_DETECTORS]
        + [{"name": name, "path": f"file://{detectors}"} for name in OWN_DETECTORS],
        "filters_used": [{"path": path} for path in FILTERS],
    }
    with transient_settings(config):
        collection = SecretsCollection(root=str(ROOT))
        collection.scan_files(*(str(f) for f in files), num_processors=1)
    return sorted(
        (Finding(name, secret.line_number or 0, secret.type, secret.secret_hash) for name, secret in collection),
        key=lambda f: (f.path, f.line, f.type),
    )


def load_allowlist(path: Path = ALLOWLIST) -> dict[tuple[str, str], str]:
    entries = json.loads(path.read_text())
    for entry in entries:
        assert entry["reason"].strip(), f"allowlist entry {entry['hashed_secret']} needs its reason"
    return {(entry["type"], entry["hashed_secret"]): entry["reason"] for entry in entries}


def refused(findings: Iterable[Finding], allowlist: dict[tuple[str, str], str]) -> list[Finding]:
    return [f for f in findings if (f.type, f.hashed_secret) not in allowlist]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="Secret scan of the repository and generated files.")
    parser.add_argument("--repository", action="store_true", help="scan every file git tracks")
    parser.add_argument("paths", nargs="*", type=Path, help="generated files or folders to scan")
    args = parser.parse_args(argv)
    try:
        extra = files_under(args.paths)
    except FileNotFoundError as missing:
        print(f"secret scan: {missing}", file=sys.stderr)  # noqa: T201
        return 2
    files = (tracked_files() if args.repository else []) + extra
    bad = refused(scan(files), load_allowlist())
    for finding in bad:
        print(f"secret scan: {finding}", file=sys.stderr)  # noqa: T201
    print(f"secret scan: {len(files)} files ({len(extra)} generated), {len(bad)} findings")  # noqa: T201
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
