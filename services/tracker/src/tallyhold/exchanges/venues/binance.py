"""Binance: `GET /sapi/v1/account/apiRestrictions` proves read-only; eight wallets are read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from tallyhold.exchanges import parse
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
# Binance shows Simple Earn flexible positions in the spot account as "LD" + asset. Real tokens that happen to
# start with LD are listed here so they are never mistaken for earn positions.
LD_TOKENS = frozenset({"LDO"})
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

    def asset_code(self, code: str, location: str, common: Mapping[str, str]) -> tuple[str, str]:
        underlying = ld_underlying(code) if location == "spot" else None  # only spot carries LD* tokens
        if underlying is not None:
            return common.get(underlying, underlying), "earn"
        return common.get(code, code), location

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        # Spot first: it proves the key works, so a later -2015 from a futures API means "no futures wallet".
        ld_tokens = await self._spot(api, sheet)
        flexible: set[str] = set()
        await read_wallets(
            self,
            sheet,
            {
                "funding": partial(self._funding, api, sheet),
                "earn_flexible": partial(self._earn_flexible, api, sheet, flexible),
                "earn_locked": partial(self._earn_locked, api, sheet),
                "staking": partial(self._staking, api, sheet),
                "margin": partial(self._margin, api, sheet),
                "isolated_margin": partial(self._isolated_margin, api, sheet),
                "usdm_futures": partial(self._futures, api, sheet, "fapiPrivateV2GetBalance", "usdm_futures"),
                "coinm_futures": partial(self._futures, api, sheet, "dapiPrivateGetBalance", "coinm_futures"),
            },
        )
        # LD* spot tokens stand for Simple Earn Flexible positions; when the position endpoint lists the asset
        # it is the authority and the token is not counted twice.
        for asset, amount in ld_tokens:
            if asset not in flexible:
                sheet.add(asset, "earn", amount)
        return sheet

    async def _spot(self, api: Api, sheet: BalanceSheet) -> list[tuple[str, Decimal]]:
        """Adds the spot balances; returns the LD* Simple Earn tokens found there, by underlying asset."""
        account = parse.obj(await api.call("privateGetAccount", {"omitZeroBalances": "true"}), "account")
        sheet.wallets["spot"] = "ok"
        ld_tokens: list[tuple[str, Decimal]] = []
        for i, line in enumerate(parse.arr_at(account, "balances", "account")):
            where = f"account.balances[{i}]"
            row = parse.obj(line, where)
            asset = _asset(row, where)
            total = parse.amount_at(row, "free", where) + parse.amount_at(row, "locked", where)
            underlying = ld_underlying(asset)
            if underlying is not None:
                ld_tokens.append((underlying, total))
            else:
                sheet.add(asset, "spot", total)
        return ld_tokens

    async def _funding(self, api: Api, sheet: BalanceSheet) -> None:
        for i, line in enumerate(parse.arr(await api.call("sapiPostAssetGetFundingAsset"), "funding")):
            where = f"funding[{i}]"
            row = parse.obj(line, where)
            parts = ("free", "locked", "freeze", "withdrawing")
            total = sum((parse.optional_amount(row, part, where) for part in parts), Decimal(0))
            sheet.add(_asset(row, where), "funding", total)

    async def _earn_flexible(self, api: Api, sheet: BalanceSheet, listed: set[str]) -> None:
        """Adds the Simple Earn Flexible positions and records their assets in `listed`."""
        for i, row in enumerate(await _pages(api, "sapiGetSimpleEarnFlexiblePosition", "flexible")):
            where = f"flexible.rows[{i}]"
            asset = _asset(row, where)
            listed.add(asset)
            sheet.add(asset, "earn", parse.amount_at(row, "totalAmount", where))

    async def _earn_locked(self, api: Api, sheet: BalanceSheet) -> None:
        for i, row in enumerate(await _pages(api, "sapiGetSimpleEarnLockedPosition", "locked")):
            where = f"locked.rows[{i}]"
            sheet.add(_asset(row, where), "earn", parse.amount_at(row, "amount", where))

    async def _staking(self, api: Api, sheet: BalanceSheet) -> None:
        for product in STAKING_PRODUCTS:
            for page in range(1, 101):
                params = {"product": product, "current": page, "size": PAGE}
                rows = parse.arr(await api.call("sapiGetStakingPosition", params), f"staking.{product}")
                for i, line in enumerate(rows):
                    where = f"staking.{product}[{i}]"
                    row = parse.obj(line, where)
                    sheet.add(_asset(row, where), "staked", parse.amount_at(row, "amount", where))
                if len(rows) < PAGE:
                    break

    async def _margin(self, api: Api, sheet: BalanceSheet) -> None:
        data = parse.obj(await api.call("sapiGetMarginAccount"), "margin")
        for i, line in enumerate(parse.arr_at(data, "userAssets", "margin")):
            where = f"margin.userAssets[{i}]"
            row = parse.obj(line, where)
            sheet.net(_asset(row, where), "margin", parse.decimal_at(row, "netAsset", where))

    async def _isolated_margin(self, api: Api, sheet: BalanceSheet) -> None:
        data = parse.obj(await api.call("sapiGetMarginIsolatedAccount"), "isolated")
        for i, line in enumerate(parse.arr(data.get("assets", []), "isolated.assets")):
            pair = parse.obj(line, f"isolated.assets[{i}]")
            for side in ("baseAsset", "quoteAsset"):
                where = f"isolated.assets[{i}].{side}"
                row = parse.obj_at(pair, side, f"isolated.assets[{i}]")
                sheet.net(_asset(row, where), "margin", parse.decimal_at(row, "netAsset", where))

    async def _futures(self, api: Api, sheet: BalanceSheet, method: str, wallet: str) -> None:
        """A futures wallet's margin balance: wallet balance plus unrealised P&L (may be negative)."""
        for i, line in enumerate(parse.arr(await api.call(method), wallet)):
            where = f"{wallet}[{i}]"
            row = parse.obj(line, where)
            equity = parse.decimal_at(row, "balance", where) + parse.decimal(
                row.get("crossUnPnl", "0"), f"{where}.crossUnPnl"
            )
            sheet.net(_asset(row, where), "futures", equity)


def ld_underlying(code: str) -> str | None:
    """ "LDBTC" → "BTC": the asset behind a Binance Simple Earn flexible token; None for anything else."""
    code = code.strip().upper()
    if code.startswith("LD") and len(code) > 3 and code not in LD_TOKENS:
        return code[2:]
    return None


def _asset(row: Mapping[str, Any], where: str) -> str:
    return parse.text_at(row, "asset", where)


async def _pages(api: Api, method: str, where: str) -> list[Mapping[str, Any]]:
    """Simple Earn positions are paged (`current`, `size` ≤ 100, `total`)."""
    rows: list[Mapping[str, Any]] = []
    page = 1
    while True:
        data = parse.obj(await api.call(method, {"current": page, "size": PAGE}), where)
        batch = parse.arr_at(data, "rows", where)
        rows.extend(parse.obj(row, f"{where}.rows[{i}]") for i, row in enumerate(batch))
        total = parse.integer(data.get("total", len(rows)), f"{where}.total")
        if not batch or len(rows) >= total or page >= 100:
            return rows
        page += 1


ADAPTER = Binance()
