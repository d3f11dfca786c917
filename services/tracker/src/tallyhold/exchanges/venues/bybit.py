"""Bybit (v5): `GET /v5/user/query-api` proves read-only (`readOnly == 1`); the Unified Trading or classic
accounts, the Funding wallet and Earn positions are read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, IpLimit, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets, venue_code

# The permission categories Bybit lists on a key (docs "Get API Key Information"). On a read-only key they say
# which data it may read; Bybit adds categories over time, so an unknown one that grants anything is refused.
KNOWN_CATEGORIES = frozenset(
    {
        "ContractTrade", "Spot", "Wallet", "Options", "Derivatives", "CopyTrading", "BlockTrade", "Exchange",
        "NFT", "Affiliate", "Earn", "FiatP2P", "FiatBybitPay", "FiatConvertBroker",
    }
)  # fmt: skip
# Wallet rights that move funds even on a key marked read-only (checked defensively), with Bybit's labels.
WALLET_RIGHTS: dict[str, tuple[Category, str]] = {
    "Withdraw": ("withdraw", "Withdrawal"),
    "AccountTransfer": ("transfer", "Account Transfer"),
    "SubMemberTransfer": ("transfer", "Subaccount Transfer"),
}
CLASSIC_STATUS = 1  # account/info unifiedMarginStatus: 1 = classic account, 3-6 = the unified account kinds
EARN = {"FlexibleSaving": "earn", "OnChain": "staked"}
# retCode for "this account has no such wallet" (a classic account asked for its unified wallet and back).
NOT_OPENED = {"10001", "3400001"}


def permission_rule(answer: Any) -> KeyReport:
    result = _result(answer, "query-api")
    read_only = parse.integer_at(result, "readOnly", "query-api.result")
    if read_only not in (0, 1):
        raise parse.Malformed("query-api.result.readOnly", "neither 0 nor 1")
    categories = parse.obj_at(result, "permissions", "query-api.result")
    found = Findings()
    if read_only == 0:
        found.grant("trade", "Read-Write")
    for category, items in categories.items():
        names = [
            parse.text(item, f"query-api.result.permissions.{category}[]")
            for item in parse.arr(items, f"query-api.result.permissions.{category}")
        ]
        if names:
            found.read = True
        if category == "Wallet":
            # Every right Bybit documents in this category moves funds; an undocumented one is refused too.
            for name in names:
                kind, words = WALLET_RIGHTS.get(name, ("unknown", f"Wallet: {name[:40]}"))
                found.grant(kind, words)
        elif category not in KNOWN_CATEGORIES:
            for name in names:
                found.grant("unknown", f"{category}: {name}")
    if not found.read:
        found.need("Read-Only access to Unified Trading and Assets")
    ips = result.get("ips")
    expires = result.get("expiredAt")
    created = result.get("createdAt")
    ip_list = (
        [parse.text(ip, "query-api.result.ips[]") for ip in parse.arr(ips, "query-api.result.ips")]
        if ips is not None
        else None
    )
    return found.report(
        ip_restricted=None if ip_list is None else bool(ip_list) and ip_list != ["*"],
        key_expires_at=parse.iso_time(expires, "query-api.result.expiredAt") if expires else None,
        key_created_at=parse.iso_time(created, "query-api.result.createdAt") if created else None,
    )


class Bybit(Adapter):
    info = VenueInfo(
        id="bybit",
        name="Bybit",
        enable="Read-Only",
        leave_off=("Read-Write", *(words for _, words in WALLET_RIGHTS.values())),
        verification="exchange",
        permission_endpoint="GET /v5/user/query-api",
        rule="`readOnly` is 1, the Wallet category holds no Withdrawal/Account Transfer/Subaccount Transfer, and "
        "no category Tallyhold does not know grants anything.",
        wallets=(
            Wallet("unified", "Unified Trading Account (equity per coin)", "GET /v5/account/wallet-balance"),
            Wallet("spot", "Classic Spot (classic accounts)", "GET /v5/account/wallet-balance?accountType=SPOT"),
            Wallet("futures", "Classic Derivatives (classic accounts)", "GET /v5/account/wallet-balance"),
            Wallet("funding", "Funding", "GET /v5/asset/transfer/query-account-coins-balance?accountType=FUND"),
            Wallet("earn", "Earn: Flexible Savings", "GET /v5/earn/position?category=FlexibleSaving"),
            Wallet("staked", "Earn: On-Chain", "GET /v5/earn/position?category=OnChain"),
        ),
        not_covered="Sub-accounts, copy-trading and bot sub-wallets, Launchpool and Bybit Card are not read.",
    )
    methods = frozenset(
        {
            "privateGetV5UserQueryApi",
            "privateGetV5AccountInfo",
            "privateGetV5AccountWalletBalance",
            "privateGetV5AssetTransferQueryAccountCoinsBalance",
            "privateGetV5EarnPosition",
        }
    )

    # Bybit allows 600 HTTP requests per 5 seconds from one IP, whatever the endpoint (each weighs 1), and shuts
    # an IP that goes over out for ten minutes (403 "access too frequent"); its per-endpoint limits are per UID.
    ip_limit = IpLimit(weight=600, window_seconds=5)

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("privateGetV5UserQueryApi"))

    def not_opened(self, wallet: str, failure: CallFailure) -> bool:
        return wallet.startswith("earn") and venue_code(failure, "retCode") in NOT_OPENED

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        info = _result(await api.call("privateGetV5AccountInfo"), "account/info")
        status = parse.integer_at(info, "unifiedMarginStatus", "account/info.result")

        async def trading(account_type: str, location: str) -> None:
            result = _result(
                await api.call("privateGetV5AccountWalletBalance", {"accountType": account_type}), "wallet"
            )
            for a, account in enumerate(parse.arr_at(result, "list", "wallet.result")):
                rows = parse.arr_at(parse.obj(account, f"wallet.result.list[{a}]"), "coin", f"wallet.result.list[{a}]")
                for i, line in enumerate(rows):
                    where = f"wallet.result.list[{a}].coin[{i}]"
                    row = parse.obj(line, where)
                    # equity = wallet balance + unrealised P&L - borrowing: what the coin is worth to the owner
                    equity = parse.decimal_at(row, "equity", where)
                    sheet.net(_coin(row, where), location, equity)

        async def funding() -> None:
            params = {"accountType": "FUND"}
            result = _result(await api.call("privateGetV5AssetTransferQueryAccountCoinsBalance", params), "fund")
            for i, line in enumerate(parse.arr_at(result, "balance", "fund.result")):
                where = f"fund.result.balance[{i}]"
                row = parse.obj(line, where)
                sheet.add(_coin(row, where), "funding", parse.amount_at(row, "walletBalance", where))

        async def earn(category: str) -> None:
            result = _result(await api.call("privateGetV5EarnPosition", {"category": category}), f"earn.{category}")
            for i, line in enumerate(parse.arr_at(result, "list", f"earn.{category}.result")):
                where = f"earn.{category}.result.list[{i}]"
                row = parse.obj(line, where)
                sheet.add(_coin(row, where), EARN[category], parse.amount_at(row, "amount", where))

        readers = {
            "funding": funding,
            "earn_flexible": lambda: earn("FlexibleSaving"),
            "earn_onchain": lambda: earn("OnChain"),
        }
        if status == CLASSIC_STATUS:
            readers["spot"] = lambda: trading("SPOT", "spot")
            readers["derivatives"] = lambda: trading("CONTRACT", "futures")
        else:
            readers["unified"] = lambda: trading("UNIFIED", "unified")
        await read_wallets(self, sheet, readers)
        return sheet


def _result(answer: Any, where: str) -> Mapping[str, Any]:
    return parse.obj_at(parse.obj(answer, where), "result", where)


def _coin(row: Mapping[str, Any], where: str) -> str:
    return parse.text_at(row, "coin", where)


ADAPTER = Bybit()
