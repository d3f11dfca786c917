from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.limits import RESOURCE_LOCK_SQL
from tallyhold.models import Balance, Connection, CustomToken


class CustomTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_chain(self, chain: str) -> list[CustomToken]:
        statement = select(CustomToken).where(CustomToken.chain == chain).order_by(CustomToken.created_at)
        return list(await self.session.scalars(statement))

    async def count_locked(self) -> int:
        """Custom tokens of every chain, counted under the resource's advisory lock (tallyhold.limits)."""
        await self.session.execute(text(RESOURCE_LOCK_SQL), {"resource": "custom_tokens"})
        return int(await self.session.scalar(select(func.count()).select_from(CustomToken)) or 0)

    async def all(self) -> list[CustomToken]:
        statement = select(CustomToken).order_by(CustomToken.chain, CustomToken.created_at)
        return list(await self.session.scalars(statement))

    async def find(self, chain: str, *, contract: str | None = None, asset: str | None = None) -> CustomToken | None:
        statement = select(CustomToken).where(CustomToken.chain == chain)
        if contract is not None:
            statement = statement.where(CustomToken.contract == contract)
        if asset is not None:
            statement = statement.where(CustomToken.asset == asset)
        return (await self.session.scalars(statement.limit(1))).one_or_none()

    async def add(self, token: CustomToken) -> CustomToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def remove(self, token_id: uuid.UUID) -> CustomToken | None:
        token = await self.session.get(CustomToken, token_id)
        if token is None:
            return None
        # Its balances on the chain's wallets go at once (a custom token's code is unique on its chain), rather
        # than lingering until the next sync.
        wallets = select(Connection.id).where(Connection.kind == "wallet", Connection.chain == token.chain)
        await self.session.execute(
            delete(Balance).where(Balance.connection_id.in_(wallets), Balance.asset == token.asset)
        )
        await self.session.delete(token)
        await self.session.flush()
        return token


class WalletRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, chain: str, address: str) -> Connection | None:
        statement = select(Connection).where(
            Connection.kind == "wallet", Connection.chain == chain, Connection.address == address
        )
        return (await self.session.scalars(statement)).one_or_none()
