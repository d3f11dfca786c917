"""Storing an exchange connection below the API route: exactly the calls `connections.exchange.create` makes
once the exchange has reported the key read-only (seal under the credential lock, then the row)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.connections.repository import ConnectionRepository
from tallyhold.credentials import service as credentials
from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.models import Connection


def exchange_key(api_key: str, api_secret: str, passphrase: str | None = None, uid: str | None = None) -> ExchangeKey:
    return ExchangeKey(
        api_key=SecretStr(api_key),
        api_secret=SecretStr(api_secret),
        passphrase=SecretStr(passphrase) if passphrase is not None else None,
        uid=SecretStr(uid) if uid is not None else None,
    )


async def store_exchange_connection(
    session: AsyncSession, cipher: CredentialCipher, schema: str, key: ExchangeKey, *, exchange: str = "binance"
) -> uuid.UUID:
    connection = Connection(id=uuid.uuid4(), kind="exchange", label="stored below the route", exchange=exchange)
    sealed = await credentials.seal(session, cipher, schema, connection.id, key)
    for column, ciphertext in sealed.columns.items():
        setattr(connection, column, ciphertext)
    connection.key_hint = sealed.key_hint
    connection.permissions = {
        "read": True,
        "trade": False,
        "withdraw": False,
        "transfer": False,
        "verified_by": "exchange",
    }
    connection.permissions_checked_at = datetime.now(UTC)
    await ConnectionRepository(session).add(connection)
    return connection.id
