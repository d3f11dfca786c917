"""HTX: `GET /v2/user/api-key` proves read-only (`permission` is exactly `readOnly`, status normal); every
account of the user (spot, margin, OTC/funding, investment) is read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets

REFUSED: dict[str, tuple[Category, str]] = {"trade": ("trade", "Trade"), "withdraw": ("withdraw", "Withdraw")}
ACCOUNT_LOCATIONS = {
    "spot": "spot",
    "margin": "margin",
    "super-margin": "margin",
    "cross-margin": "margin",
    "otc": "funding",
    "investment": "earn",
    "point": "points",
}


def permission_rule(answer: Any, key_id: str) -> KeyReport:
    rows = parse.arr_at(parse.obj(answer, "user/api-key"), "data", "user/api-key")
    mine = [parse.obj(row, "user/api-key.data[]") for row in rows]
    # Only the entry that names this very key counts: an entry about another key proves nothing about ours.
    matching = [row for row in mine if row.get("accessKey") == key_id]
    if len(matching) != 1:
        raise parse.Malformed("user/api-key.data", "cannot tell which entry is this key")
    data = matching[0]
    permissions = parse.csv_at(data, "permission", "user/api-key.data[]")
    status = parse.text_at(data, "status", "user/api-key.data[]")
    found = Findings(read="readOnly" in permissions and status == "normal")
    for permission in permissions:
        if permission != "readOnly":
            category, words = REFUSED.get(permission, ("unknown", permission))
            found.grant(category, words)
    if not found.read:
        found.need("Read-only" if status == "normal" else f"a key in status normal (this one is {status[:16]})")
    addresses = data.get("ipAddresses")
    valid_days = data.get("validDays")
    days = parse.integer(valid_days, "user/api-key.data[].validDays") if valid_days is not None else None
    created = data.get("createTime")
    return found.report(
        ip_restricted=bool(parse.text(addresses, "user/api-key.data[].ipAddresses").strip())
        if addresses is not None
        else None,
        key_expires_at=datetime.now(UTC) + timedelta(days=days) if days is not None and days >= 0 else None,
        key_created_at=parse.epoch(created, "user/api-key.data[].createTime") if created is not None else None,
    )


class Htx(Adapter):
    info = VenueInfo(
        id="htx",
        name="HTX",
        enable="Read-only",
        leave_off=tuple(words for _, words in REFUSED.values()),
        verification="exchange",
        permission_endpoint="GET /v2/user/api-key?uid=<uid>&accessKey=<key>",
        rule="`permission` (comma-separated) is exactly `readOnly` and `status` is `normal`.",
        wallets=(
            Wallet("spot", "Spot account", "GET /v1/account/accounts/{id}/balance"),
            Wallet(
                "margin", "Isolated and cross margin accounts (net of loans)", "GET /v1/account/accounts/{id}/balance"
            ),
            Wallet("funding", "OTC (funding) account", "GET /v1/account/accounts/{id}/balance"),
            Wallet("earn", "Investment account", "GET /v1/account/accounts/{id}/balance"),
        ),
        not_covered="HTX futures and swaps (separate API hosts), sub-users and HTX Earn products outside the "
        "investment account are not read.",
    )
    methods = frozenset(
        {
            "v2PrivateGetUserUid",
            "v2PrivateGetUserApiKey",
            "spotPrivateGetV1AccountAccounts",
            "spotPrivateGetV1AccountAccountsAccountIdBalance",
        }
    )

    async def check(self, api: Api) -> KeyReport:
        uid = parse.integer_at(parse.obj(await api.call("v2PrivateGetUserUid"), "uid"), "data", "uid")
        return permission_rule(
            await api.call("v2PrivateGetUserApiKey", {"uid": uid, "accessKey": api.key_id}), api.key_id
        )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        accounts = parse.arr_at(
            parse.obj(await api.call("spotPrivateGetV1AccountAccounts"), "accounts"), "data", "accounts"
        )

        def reader(account_id: int, location: str) -> Any:
            async def read() -> None:
                answer = await api.call("spotPrivateGetV1AccountAccountsAccountIdBalance", {"account-id": account_id})
                data = parse.obj_at(parse.obj(answer, "balance"), "data", "balance")
                totals: dict[str, Decimal] = {}
                for i, line in enumerate(parse.arr_at(data, "list", "balance.data")):
                    where = f"balance.data.list[{i}]"
                    row = parse.obj(line, where)
                    currency = parse.text_at(row, "currency", where)
                    # trade + frozen are held; loan and interest lines are negative: summing nets the debt
                    value = parse.decimal_at(row, "balance", where)
                    totals[currency] = totals.get(currency, Decimal(0)) + value
                for currency, total in totals.items():
                    sheet.net(currency, location, total)

            return read

        readers = {}
        for i, line in enumerate(accounts):
            row: Mapping[str, Any] = parse.obj(line, f"accounts.data[{i}]")
            kind = parse.text_at(row, "type", f"accounts.data[{i}]")
            account_id = parse.integer_at(row, "id", f"accounts.data[{i}]")
            readers[f"{kind}_{account_id}"] = reader(account_id, ACCOUNT_LOCATIONS.get(kind, kind))
        await read_wallets(self, sheet, readers)
        return sheet


ADAPTER = Htx()
