"""MEXC: `GET /api/v3/apiKeyInfo` proves read-only (every permission ends in `_READ`, the key is VALID); spot
and futures are read. Never the POST on the same path: it overwrites the key's IP whitelist (denylist.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets


def _category(permission: str) -> Category:
    if "WITHDRAW" in permission:
        return "withdraw"
    if "TRANSFER" in permission:
        return "transfer"
    if "DEAL" in permission or "ORDER" in permission or permission.startswith(("SPOT_", "CONTRACT_")):
        return "trade"
    return "unknown"


def permission_rule(answer: Any) -> KeyReport:
    data = parse.obj(answer, "apiKeyInfo")
    permissions = parse.csv_at(data, "permissions", "apiKeyInfo")
    status = parse.text_at(data, "status", "apiKeyInfo")
    found = Findings(read=bool(permissions) and status == "VALID")
    for permission in permissions:
        if not permission.endswith("_READ"):
            found.grant(_category(permission), permission)  # MEXC's own permission names, as its key page shows
    if "SPOT_ACCOUNT_READ" not in permissions:
        found.need("SPOT_ACCOUNT_READ")
    if status != "VALID":
        found.need(f"a VALID key (this one is {status[:16]})")
    whitelist = data.get("ipWhiteList")
    validity = data.get("remainingValidity")
    days = parse.integer(validity, "apiKeyInfo.remainingValidity") if validity is not None else None
    return found.report(
        ip_restricted=bool(parse.text(whitelist, "apiKeyInfo.ipWhiteList").strip()) if whitelist is not None else None,
        key_expires_at=datetime.now(UTC) + timedelta(days=days) if days is not None and days >= 0 else None,
    )


class Mexc(Adapter):
    info = VenueInfo(
        id="mexc",
        name="MEXC",
        enable="SPOT_ACCOUNT_READ",
        leave_off=("every permission ending in _WRITE (trading, withdrawals, transfers)",),
        verification="exchange",
        permission_endpoint="GET /api/v3/apiKeyInfo?accessKey=<key>",
        rule="`status` is VALID and every entry of `permissions` ends in `_READ` (SPOT_ACCOUNT_READ among them).",
        wallets=(
            Wallet("spot", "Spot", "GET /api/v3/account"),
            Wallet("futures", "Futures (equity per currency)", "GET /api/v1/private/account/assets"),
        ),
        not_covered="Sub-accounts, MEXC Earn (savings, Launchpool) and copy-trading are not read.",
    )
    methods = frozenset({"spotPrivateGetApiKeyInfo", "spotPrivateGetAccount", "contractPrivateGetAccountAssets"})

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("spotPrivateGetApiKeyInfo", {"accessKey": api.key_id}))

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()

        async def spot() -> None:
            account = parse.obj(await api.call("spotPrivateGetAccount"), "account")
            for i, line in enumerate(parse.arr_at(account, "balances", "account")):
                where = f"account.balances[{i}]"
                row = parse.obj(line, where)
                total = parse.amount_at(row, "free", where) + parse.amount_at(row, "locked", where)
                sheet.add(parse.text_at(row, "asset", where), "spot", total)

        async def futures() -> None:
            answer = parse.obj(await api.call("contractPrivateGetAccountAssets"), "assets")
            for i, line in enumerate(parse.arr_at(answer, "data", "assets")):
                where = f"assets.data[{i}]"
                row = parse.obj(line, where)
                equity = parse.decimal_at(row, "equity", where)
                sheet.net(parse.text_at(row, "currency", where), "futures", equity)

        await read_wallets(self, sheet, {"spot": spot, "futures": futures})
        return sheet


ADAPTER = Mexc()
