"""Gate: `GET /api/v4/account/main_keys` proves read-only (every `perms[].read_only` is true); spot, isolated
margin, perpetual and delivery futures (USDT and BTC settled) and Earn (Uni lending) are read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets, venue_code

# `perms[].name` values (gateapi-python AccountKeyInfoPerms) and how Gate's key page names them.
SCOPES: dict[str, tuple[Category, str]] = {
    "wallet": ("withdraw", "Wallet"),
    "spot": ("trade", "Spot/Margin Trade"),
    "margin": ("trade", "Margin"),
    "futures": ("trade", "Perpetual Futures"),
    "delivery": ("trade", "Delivery Futures"),
    "options": ("trade", "Options"),
    "unified": ("trade", "Unified Account"),
    "loan": ("trade", "Loan"),
    "copy": ("trade", "Copy Trading"),
    "earn": ("transfer", "Earn"),
    "account": ("unknown", "Account"),
}
SETTLE = ("usdt", "btc")
# Gate labels for "this user has no such account" (futures/delivery never opened).
NOT_OPENED = {"USER_NOT_FOUND", "ACCOUNT_NOT_FOUND"}


def permission_rule(answer: Any) -> KeyReport:
    data = parse.obj(answer, "main_keys")
    perms = parse.arr_at(data, "perms", "main_keys")
    found = Findings(read=bool(perms))
    for i, line in enumerate(perms):
        row = parse.obj(line, f"main_keys.perms[{i}]")
        name = parse.text_at(row, "name", f"main_keys.perms[{i}]")
        if not parse.flag_at(row, "read_only", f"main_keys.perms[{i}]"):
            category, label = SCOPES.get(name, ("unknown", name))
            found.grant(category, f"{label}: Read and Write")
    if not found.read:
        found.need("Read Only permissions")
    whitelist = data.get("ip_whitelist")
    return found.report(
        ip_restricted=bool(parse.arr(whitelist, "main_keys.ip_whitelist")) if whitelist is not None else None
    )


class Gate(Adapter):
    info = VenueInfo(
        id="gate",
        name="Gate",
        enable="Read Only",
        leave_off=("Read and Write, on every permission group",),
        verification="exchange",
        permission_endpoint="GET /api/v4/account/main_keys",
        rule="`perms` is not empty and every entry has `read_only: true`.",
        wallets=(
            Wallet("spot", "Spot", "GET /api/v4/spot/accounts"),
            Wallet("margin", "Isolated margin (net of loans)", "GET /api/v4/margin/accounts"),
            Wallet("futures", "Perpetual futures, USDT and BTC settled", "GET /api/v4/futures/{settle}/accounts"),
            Wallet("futures", "Delivery futures, USDT and BTC settled", "GET /api/v4/delivery/{settle}/accounts"),
            Wallet("earn", "Earn (Uni lending)", "GET /api/v4/earn/uni/lends"),
        ),
        not_covered="The unified account mode, options, sub-accounts and Gate's structured products are not read.",
    )
    methods = frozenset(
        {
            "privateAccountGetMainKeys",
            "privateSpotGetAccounts",
            "privateMarginGetAccounts",
            "privateFuturesGetSettleAccounts",
            "privateDeliveryGetSettleAccounts",
            "privateEarnGetUniLends",
        }
    )

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("privateAccountGetMainKeys"))

    def not_opened(self, wallet: str, failure: CallFailure) -> bool:
        return wallet.startswith(("futures", "delivery")) and venue_code(failure, "label") in NOT_OPENED

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()

        async def spot() -> None:
            for i, line in enumerate(parse.arr(await api.call("privateSpotGetAccounts"), "spot")):
                row = parse.obj(line, f"spot[{i}]")
                total = _sum(row, f"spot[{i}]", "available", "locked")
                sheet.add(_currency(row, f"spot[{i}]"), "spot", total)

        async def margin() -> None:
            for i, line in enumerate(parse.arr(await api.call("privateMarginGetAccounts"), "margin")):
                pair = parse.obj(line, f"margin[{i}]")
                for side in ("base", "quote"):
                    where = f"margin[{i}].{side}"
                    row = parse.obj_at(pair, side, f"margin[{i}]")
                    held = _sum(row, where, "available", "locked")
                    owed = _sum(row, where, "borrowed", "interest")
                    sheet.net(_currency(row, where), "margin", held - owed)

        def futures(method: str, settle: str) -> Any:
            async def read() -> None:
                where = f"{method}.{settle}"
                row = parse.obj(await api.call(method, {"settle": settle}), where)
                equity = parse.decimal_at(row, "total", where) + parse.decimal(
                    row.get("unrealised_pnl", "0"), f"{where}.unrealised_pnl"
                )
                sheet.net(_currency(row, where), "futures", equity)

            return read

        async def earn() -> None:
            for page in range(1, 201):
                rows = parse.arr(await api.call("privateEarnGetUniLends", {"page": page, "limit": 100}), "lends")
                for i, line in enumerate(rows):
                    row = parse.obj(line, f"lends[{i}]")
                    sheet.add(_currency(row, f"lends[{i}]"), "earn", _sum(row, f"lends[{i}]", "amount"))
                if len(rows) < 100:
                    return

        readers = {"spot": spot, "margin": margin, "earn": earn}
        for settle in SETTLE:
            readers[f"futures_{settle}"] = futures("privateFuturesGetSettleAccounts", settle)
            readers[f"delivery_{settle}"] = futures("privateDeliveryGetSettleAccounts", settle)
        await read_wallets(self, sheet, readers)
        return sheet


def _currency(row: Mapping[str, Any], where: str) -> str:
    return parse.text_at(row, "currency", where)


def _sum(row: Mapping[str, Any], where: str, *names: str) -> Decimal:
    return sum((parse.optional_amount(row, name, where) for name in names), Decimal(0))


ADAPTER = Gate()
