"""Fresh API credentials in the form each venue issues them (what a customer would paste), for tests, seeds
and the demo: Binance/Bybit hex secrets, Kraken base64 secrets, OKX passphrases, Coinbase CDP key names with an
EC P-256 private key in PEM."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Credentials:
    venue: str
    api_key: str
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def ccxt(self) -> dict[str, str]:
        """The ccxt constructor fields (`password` is ccxt's name for a passphrase)."""
        config = {"apiKey": self.api_key, "secret": self.secret}
        if self.passphrase is not None:
            config["password"] = self.passphrase
        return config

    def key_spec(self, **options: Any) -> dict[str, Any]:
        """A control-API key spec (README "Sandbox venues") for these credentials."""
        spec: dict[str, Any] = {"api_key": self.api_key, "secret": self.secret, **options}
        if self.passphrase is not None:
            spec["passphrase"] = self.passphrase
        return spec


def ec_private_key_pem() -> str:
    """A fresh P-256 private key in SEC1 PEM (an "EC PRIVATE KEY" block), as Coinbase CDP hands out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def generate(venue: str) -> Credentials:
    if venue == "kraken":
        return Credentials(venue, base64.b64encode(secrets.token_bytes(42)).decode(), _b64(64))
    if venue == "okx":
        return Credentials(venue, str(uuid.uuid4()), secrets.token_hex(16).upper(), "Sandbox-" + secrets.token_hex(6))
    if venue == "coinbase":
        name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
        return Credentials(venue, name, ec_private_key_pem())
    if venue == "bybit":
        return Credentials(venue, secrets.token_urlsafe(13)[:18], secrets.token_urlsafe(27)[:36])
    return Credentials(venue, secrets.token_urlsafe(48)[:64], secrets.token_urlsafe(48)[:64])


def _b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()
