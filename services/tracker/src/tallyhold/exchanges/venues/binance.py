"""Binance: `GET /sapi/v1/account/apiRestrictions` proves read-only; eight wallets are read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.assets import binance_ld_underlying
from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, IpLimit, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets, venue_code

# Every flag of the apiRestrictions answer that grants something beyond reading, with the label Binance's API
# Management page gives it (what the customer has to untick).
WRITE_FLAGS: dict[str, tuple[Category, str]] = {
    "enableSpotAndMarginTrading": ("trade", "Enable Spot & Margin Trading"),
    "enableMargin": ("trade", "Enable Margin Loan, Repay & Transfer"),
    "enableFutures": ("trade", "Enable Futures"),
    "enablePortfolioMarginTrading": ("trade", "Enable Portfolio Margin Trading"),
    "enableVanillaOptions": ("trade", "Enable European Options"),
    "enableFixApiTrade": ("trade", "Enable FIX API Trading"),
    "enableWithdrawals": ("withdraw", "Enable Withdrawals"),
    "enableInternalTransfer": ("transfer", "Enable Internal Transfer"),
    "permitsUniversalTransfer": ("transfer", "Permits Universal Transfer"),
}
REQUIRED_FLAGS = ("enableReading", "enableSpotAndMarginTrading", "enableWithdrawals")
# Read-only variants of other permissions: harmless whatever their value.
READ_ONLY_FLAGS = frozenset({"enableReading", "enableFixReadOnly"})
# Binance error codes meaning "this account has no such wallet" (margin never opened; futures never opened:
# the futures API answers -2015 for an account without a futures wallet, and spot proved the key already).
NOT_OPENED = {"margin": {"-3003"}, "isolated_margin": {"-3003"}, "usdm_futures": {"-2015"}, "coinm_futures": {"-2015"}}
PAGE = 100
STAKING_PRODUCTS = ("STAKING", "F_DEFI", "L_DEFI")


# Booleans of the answer that describe the key rather than grant anything.
INFO_FLAGS = frozenset({"ipRestrict"})


def permission_rule(answer: Any) -> KeyReport:
    data = parse.obj(answer, "apiRestrictions")
    for name in REQUIRED_FLAGS:
        parse.field(data, name, "apiRestrictions")
    found = Findings()
    for name, value in data.items():
        if not name.startswith(("enable", "permits")):
            # A true boolean under a name we do not know (say `canTransfer`) may be a right: refuse it too.
            if value is True and name not in INFO_FLAGS:
                found.grant("unknown", name[:40])
            continue
        granted = parse.flag(value, f"apiRestrictions.{name}")
        if name == "enableReading":
            found.read = granted
        elif name in READ_ONLY_FLAGS or not granted:
            continue
        elif name in WRITE_FLAGS:
            category, words = WRITE_FLAGS[name]
            found.grant(category, words)
        else:
            found.grant("unknown", name)  # a flag Binance added after us: refuse, naming it as Binance does
    if not found.read:
        found.need("Enable Reading")
    ip = data.get("ipRestrict")
    created = data.get("createTime")
    return found.report(
        ip_restricted=parse.flag(ip, "apiRestrictions.ipRestrict") if ip is not None else None,
        key_created_at=parse.epoch(created, "apiRestrictions.createTime") if created is not None else None,
    )


class Binance(Adapter):
    info = VenueInfo(
        id="binance",
        name="Binance",
        enable="Enable Reading",
        leave_off=tuple(words for _, words in WRITE_FLAGS.values()),
        verification="exchange",
        permission_endpoint="GET /sapi/v1/account/apiRestrictions",
        rule="`enableReading` is true and every other `enable*`/`permits*` flag is false (`enableFixReadOnly` "
        "ignored); an unknown flag that is true refuses the key.",
        wallets=(
            Wallet("spot", "Spot", "GET /api/v3/account"),
            Wallet("funding", "Funding", "POST /sapi/v1/asset/get-funding-asset"),
            Wallet(
                "earn", "Simple Earn Flexible (and LD* tokens in Spot)", "GET /sapi/v1/simple-earn/flexible/position"
            ),
            Wallet("earn", "Simple Earn Locked", "GET /sapi/v1/simple-earn/locked/position"),
            Wallet("staked", "Staking (STAKING, F_DEFI, L_DEFI)", "GET /sapi/v1/staking/position"),
            Wallet("margin", "Cross Margin (net of loans)", "GET /sapi/v1/margin/account"),
            Wallet("margin", "Isolated Margin (net of loans)", "GET /sapi/v1/margin/isolated/account"),
            Wallet("futures", "USDⓈ-M Futures (margin balance)", "GET /fapi/v2/balance"),
            Wallet("futures", "COIN-M Futures (margin balance)", "GET /dapi/v1/balance"),
        ),
        not_covered="Options (eapi), Portfolio Margin (papi), sub-accounts, Binance Pay, Dual Investment, "
        "Auto-Invest plans and loans collateral are not read.",
    )
    methods = frozenset(
        {
            "sapiGetAccountApiRestrictions",
            "privateGetAccount",
            "sapiPostAssetGetFundingAsset",
            "sapiGetSimpleEarnFlexiblePosition",
            "sapiGetSimpleEarnLockedPosition",
            "sapiGetStakingPosition",
            "sapiGetMarginAccount",
            "sapiGetMarginIsolatedAccount",
            "fapiPrivateV2GetBalance",
            "dapiPrivateGetBalance",
        }
    )

    # Binance limits request weight per IP: 6000 per minute on the spot REST API, answered with 429 and then,
    # for a client that keeps sending, an IP ban (418, two minutes up to three days). Each endpoint's weight is
    # published next to it; the /sapi/ and futures endpoints have limits of their own, counted here against the
    # same budget, which only errs on the careful side.
    ip_limit = IpLimit(weight=6000, window_seconds=60)
    weights = {
        "sapiGetAccountApiRestrictions": 1,
        "privateGetAccount": 20,
        "sapiPostAssetGetFundingAsset": 1,
        "sapiGetSimpleEarnFlexiblePosition": 150,
        "sapiGetSimpleEarnLockedPosition": 150,
        "sapiGetStakingPosition": 1,
        "sapiGetMarginAccount": 10,
        "sapiGetMarginIsolatedAccount": 10,
        "fapiPrivateV2GetBalance": 5,
        "dapiPrivateGetBalance": 1,
    }

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("sapiGetAccountApiRestrictions"))

    def not_opened(self, wallet: str, failure: CallFailure) -> bool:
        return venue_code(failure, "code") in NOT_OPENED.get(wallet, set())

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        # Spot first: it proves the key works, so a later -2015 from a futures API means "no futures wallet".
        account = parse.obj(await api.call("privateGetAccount", {"omitZeroBalances": "true"}), "account")
        sheet.wallets["spot"] = "ok"
        ld_lines: list[tuple[str, Decimal]] = []
        for i, line in enumerate(parse.arr(parse.field(account, "balances", "account"), "account.balances")):
            where = f"account.balances[{i}]"
            row = parse.obj(line, where)
            asset = parse.text(parse.field(row, "asset", where), f"{where}.asset")
            total = parse.amount(parse.field(row, "free", where), f"{where}.free") + parse.amount(
                parse.field(row, "locked", where), f"{where}.locked"
            )
            underlying = binance_ld_underlying(asset)
            if underlying is not None:
                ld_lines.append((underlying, total))
            else:
                sheet.add(asset, "spot", total)
        flexible: dict[str, Decimal] = {}

        async def funding() -> None:
            rows = parse.arr(await api.call("sapiPostAssetGetFundingAsset"), "funding")
            for i, line in enumerate(rows):
                row = parse.obj(line, f"funding[{i}]")
                total = sum(
                    (
                        parse.optional_amount(row, part, f"funding[{i}]")
                        for part in ("free", "locked", "freeze", "withdrawing")
                    ),
                    Decimal(0),
                )
                sheet.add(_asset(row, f"funding[{i}]"), "funding", total)

        async def earn_flexible() -> None:
            for i, row in enumerate(await _pages(api, "sapiGetSimpleEarnFlexiblePosition", "flexible")):
                asset = _asset(row, f"flexible[{i}]")
                amount = parse.amount(parse.field(row, "totalAmount", f"flexible[{i}]"), f"flexible[{i}].totalAmount")
                flexible[asset] = flexible.get(asset, Decimal(0)) + amount
                sheet.add(asset, "earn", amount)

        async def earn_locked() -> None:
            for i, row in enumerate(await _pages(api, "sapiGetSimpleEarnLockedPosition", "locked")):
                amount = parse.amount(parse.field(row, "amount", f"locked[{i}]"), f"locked[{i}].amount")
                sheet.add(_asset(row, f"locked[{i}]"), "earn", amount)

        async def staking() -> None:
            for product in STAKING_PRODUCTS:
                where = f"staking.{product}"
                for page in range(1, 101):
                    params = {"product": product, "current": page, "size": PAGE}
                    rows = parse.arr(await api.call("sapiGetStakingPosition", params), where)
                    for i, line in enumerate(rows):
                        row = parse.obj(line, f"{where}[{i}]")
                        amount = parse.amount(parse.field(row, "amount", f"{where}[{i}]"), f"{where}[{i}].amount")
                        sheet.add(_asset(row, f"{where}[{i}]"), "staked", amount)
                    if len(rows) < PAGE:
                        break

        async def margin() -> None:
            data = parse.obj(await api.call("sapiGetMarginAccount"), "margin")
            for i, line in enumerate(parse.arr(parse.field(data, "userAssets", "margin"), "margin.userAssets")):
                row = parse.obj(line, f"margin.userAssets[{i}]")
                net = parse.decimal(parse.field(row, "netAsset", f"margin[{i}]"), f"margin[{i}].netAsset")
                sheet.net(_asset(row, f"margin[{i}]"), "margin", net)

        async def isolated_margin() -> None:
            data = parse.obj(await api.call("sapiGetMarginIsolatedAccount"), "isolated")
            for i, line in enumerate(parse.arr(data.get("assets", []), "isolated.assets")):
                pair = parse.obj(line, f"isolated.assets[{i}]")
                for side in ("baseAsset", "quoteAsset"):
                    where = f"isolated[{i}].{side}"
                    row = parse.obj(parse.field(pair, side, f"isolated[{i}]"), where)
                    sheet.net(_asset(row, where), "margin", parse.decimal(parse.field(row, "netAsset", where), where))

        async def futures(method: str, wallet: str) -> None:
            for i, line in enumerate(parse.arr(await api.call(method), wallet)):
                where = f"{wallet}[{i}]"
                row = parse.obj(line, where)
                equity = parse.decimal(parse.field(row, "balance", where), f"{where}.balance") + parse.decimal(
                    row.get("crossUnPnl", "0"), f"{where}.crossUnPnl"
                )
                sheet.net(_asset(row, where), "futures", equity)

        async def usdm() -> None:
            await futures("fapiPrivateV2GetBalance", "usdm_futures")

        async def coinm() -> None:
            await futures("dapiPrivateGetBalance", "coinm_futures")

        await read_wallets(
            self,
            sheet,
            {
                "funding": funding,
                "earn_flexible": earn_flexible,
                "earn_locked": earn_locked,
                "staking": staking,
                "margin": margin,
                "isolated_margin": isolated_margin,
                "usdm_futures": usdm,
                "coinm_futures": coinm,
            },
        )
        # LD* spot tokens stand for Simple Earn Flexible positions; when the position endpoint lists the asset
        # it is the authority and the token is not counted twice.
        for asset, amount in ld_lines:
            if asset not in flexible:
                sheet.add(asset, "earn", amount)
        return sheet


def _asset(row: Mapping[str, Any], where: str) -> str:
    return parse.text(parse.field(row, "asset", where), f"{where}.asset")


async def _pages(api: Api, method: str, where: str) -> list[Mapping[str, Any]]:
    """Simple Earn positions are paged (`current`, `size` ≤ 100, `total`)."""
    rows: list[Mapping[str, Any]] = []
    page = 1
    while True:
        data = parse.obj(await api.call(method, {"current": page, "size": PAGE}), where)
        batch = parse.arr(parse.field(data, "rows", where), f"{where}.rows")
        rows.extend(parse.obj(row, f"{where}.rows[{i}]") for i, row in enumerate(batch))
        total = parse.integer(data.get("total", len(rows)), f"{where}.total")
        if not batch or len(rows) >= total or page >= 100:
            return rows
        page += 1


ADAPTER = Binance()
