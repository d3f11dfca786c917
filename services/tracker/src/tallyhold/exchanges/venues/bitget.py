"""Bitget: the unified account's `GET /api/v3/account/info` (`permType` read-only) or, for classic accounts,
`GET /api/v2/spot/account/info` (every authority a read code) proves read-only; spot, futures and Earn are
read (the unified account's assets for unified accounts)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets

# v2 authority codes (doc "Get Account Information"): `…r` read-only, `…w` read-write. The doc's own example
# answer uses the words "readonly" and "trade"; both are understood.
READ_CODES = frozenset({"coor", "cpor", "stor", "smor", "ttor", "wtor", "taxr", "chor", "p2pr", "pllr", "readonly"})
WRITE_CODES: dict[str, tuple[Category, str]] = {
    "coow": ("trade", "coow (futures orders)"),
    "cpow": ("trade", "cpow (futures positions)"),
    "stow": ("trade", "stow (spot trading)"),
    "smow": ("trade", "smow (margin trading)"),
    "ttow": ("trade", "ttow (copy trading)"),
    "wtow": ("transfer", "wtow (wallet transfers)"),
    "wwow": ("withdraw", "wwow (withdrawals)"),
    "chow": ("trade", "chow (convert)"),
    "p2pw": ("trade", "p2pw (P2P)"),
    "p2p": ("trade", "p2p (P2P)"),
    "pllw": ("trade", "pllw"),
    "taxw": ("unknown", "taxw (tax)"),
    "trade": ("trade", "trade"),
}
# v3 (unified account) `permissions` entries that are not reading.
UTA_WRITE: dict[str, tuple[Category, str]] = {
    "withdraw": ("withdraw", "withdraw"),
    "transfer": ("transfer", "transfer"),
}
# v3 entries known to grant nothing beyond reading. Bitget's documentation lists none, so none is accepted yet.
UTA_READ: frozenset[str] = frozenset()
PRODUCT_TYPES = ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")


def classic_rule(answer: Any) -> KeyReport:
    data = parse.obj_at(parse.obj(answer, "account/info"), "data", "account/info")
    authorities = [
        parse.text(a, "account/info.data.authorities[]") for a in parse.arr_at(data, "authorities", "account/info.data")
    ]
    found = Findings(read=bool(authorities))
    for code in authorities:
        if code not in READ_CODES:
            category, words = WRITE_CODES.get(code, ("unknown", code))
            found.grant(category, words)
    if not found.read:
        found.need("Read-only")
    return found.report(ip_restricted=_ips(data, "account/info.data"), hints={"account": "classic"})


def unified_rule(answer: Any) -> KeyReport:
    where = "v3/account/info.data"
    data = parse.obj_at(parse.obj(answer, "v3/account/info"), "data", "v3/account/info")
    perm_type = parse.text_at(data, "permType", where)
    permissions = [parse.text(p, f"{where}.permissions[]") for p in parse.arr_at(data, "permissions", where)]
    found = Findings(read=True)
    if perm_type != "read-only":
        found.grant("trade", f"permType {perm_type[:24]} (choose read-only)")
    for permission in permissions:
        if permission in UTA_WRITE:
            found.grant(*UTA_WRITE[permission])
        elif permission.endswith("_trade"):
            found.grant("trade", permission[:40])
        elif permission not in UTA_READ:
            # Fail closed: Bitget documents no read-only values for this list, so anything in it is refused.
            found.grant("unknown", permission[:40])
    return found.report(ip_restricted=_ips(data, where), hints={"account": "unified"})


def _ips(data: Mapping[str, Any], where: str) -> bool | None:
    ips = data.get("ips")
    return bool(parse.text(ips, f"{where}.ips").strip()) if ips is not None else None


class Bitget(Adapter):
    info = VenueInfo(
        id="bitget",
        name="Bitget",
        enable="Read-only",
        leave_off=("Read/Write", "Withdraw", "Transfer"),
        verification="exchange",
        permission_endpoint="GET /api/v3/account/info, GET /api/v2/spot/account/info",
        rule="unified accounts: `permType` is `read-only` and no `*_trade`, withdraw or transfer permission; "
        "classic accounts: every entry of `authorities` is a read code (`…r`, or `readonly`).",
        credentials=("passphrase",),
        wallets=(
            Wallet("spot", "Spot (classic)", "GET /api/v2/spot/account/assets"),
            Wallet("futures", "USDT-M, COIN-M and USDC-M futures (equity)", "GET /api/v2/mix/account/accounts"),
            Wallet("earn", "Earn (savings)", "GET /api/v2/earn/savings/assets"),
            Wallet("unified", "Unified account (equity per coin)", "GET /api/v3/account/assets"),
        ),
        not_covered="Copy-trading and bot sub-accounts, P2P, and sub-accounts are not read.",
    )
    methods = frozenset(
        {
            "privateUtaGetV3AccountInfo",
            "privateSpotGetV2SpotAccountInfo",
            "privateSpotGetV2SpotAccountAssets",
            "privateMixGetV2MixAccountAccounts",
            "privateEarnGetV2EarnSavingsAssets",
            "privateUtaGetV3AccountAssets",
        }
    )

    async def check(self, api: Api) -> KeyReport:
        try:
            return unified_rule(await api.call("privateUtaGetV3AccountInfo"))
        except CallFailure as failure:
            # Not a unified account (Bitget rejects the v3 call): the classic endpoint describes the key.
            if failure.code not in {"exchange_rejected", "permission_denied", "exchange_unavailable"}:
                raise
        return classic_rule(await api.call("privateSpotGetV2SpotAccountInfo"))

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        if report is None:
            report = await self.check(api)  # which kind of account this key belongs to decides what to read
        if report.hints.get("account") == "unified":
            await read_wallets(self, sheet, {"unified": lambda: self._unified(api, sheet)})
            return sheet

        async def spot() -> None:
            for i, line in enumerate(_data(await api.call("privateSpotGetV2SpotAccountAssets"), "assets")):
                where = f"assets.data[{i}]"
                row = parse.obj(line, where)
                total = sum(
                    (parse.optional_amount(row, f, where) for f in ("available", "frozen", "locked")), Decimal(0)
                )
                sheet.add(parse.text_at(row, "coin", where), "spot", total)

        def futures(product: str) -> Any:
            async def read() -> None:
                rows = _data(await api.call("privateMixGetV2MixAccountAccounts", {"productType": product}), product)
                for i, line in enumerate(rows):
                    where = f"{product}.data[{i}]"
                    row = parse.obj(line, where)
                    equity = parse.decimal_at(row, "accountEquity", where)
                    sheet.net(parse.text_at(row, "marginCoin", where), "futures", equity)

            return read

        async def earn() -> None:
            params: dict[str, Any] = {"limit": 100}
            for _ in range(100):
                answer = parse.obj(await api.call("privateEarnGetV2EarnSavingsAssets", params), "savings")
                data = parse.obj_at(answer, "data", "savings")
                rows = parse.arr_at(data, "resultList", "savings.data")
                for i, line in enumerate(rows):
                    where = f"savings.data.resultList[{i}]"
                    row = parse.obj(line, where)
                    amount = parse.amount_at(row, "holdAmount", where)
                    sheet.add(parse.text_at(row, "productCoin", where), "earn", amount)
                end = data.get("endId")
                if len(rows) < 100 or not end:
                    return
                params = {"limit": 100, "idLessThan": parse.text(end, "savings.data.endId")}

        readers = {"spot": spot, "earn": earn, **{p.lower(): futures(p) for p in PRODUCT_TYPES}}
        await read_wallets(self, sheet, readers)
        return sheet

    async def _unified(self, api: Api, sheet: BalanceSheet) -> None:
        data = parse.obj_at(parse.obj(await api.call("privateUtaGetV3AccountAssets"), "v3/assets"), "data", "v3/assets")
        for i, line in enumerate(parse.arr_at(data, "assets", "v3/assets.data")):
            where = f"v3/assets.data.assets[{i}]"
            row = parse.obj(line, where)
            sheet.net(parse.text_at(row, "coin", where), "unified", parse.decimal_at(row, "equity", where))


def _data(answer: Any, where: str) -> list[Any]:
    return parse.arr_at(parse.obj(answer, where), "data", where)


ADAPTER = Bitget()
