"""Kraken: `POST /0/private/GetApiKeyInfo` proves read-only; `BalanceEx` lists every spot and Earn balance
(Earn carries a suffix: .S .M .F .B); history comes from the ledger, since a read-only key cannot call
DepositStatus or WithdrawStatus (they need "Deposit Funds" / "Withdraw Funds")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, LedgerEntry, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api

# The read permissions Tallyhold accepts, and the label of each in Kraken's key settings.
READ = {
    "query-funds": "Query Funds",
    "query-open-trades": "Query Open Orders & Trades",
    "query-closed-trades": "Query Closed Orders & Trades",
    "query-ledger": "Query Ledger Entries",
}
# Everything else Kraken documents, with its label: refused. Export Data creates and deletes export reports,
# and WebSocket tokens are not needed; both are refused too (nothing beyond reading, fail closed).
REFUSED: dict[str, tuple[Category, str]] = {
    "modify-trades": ("trade", "Create & Modify Orders"),
    "cancel-trades": ("trade", "Cancel & Close Orders"),
    "withdraw-funds": ("withdraw", "Withdraw Funds"),
    "deposit-funds": ("transfer", "Deposit Funds"),
    "earn-funds": ("transfer", "Earn Funds"),
    "export-data": ("unknown", "Export Data"),
    "access-websockets": ("unknown", "Access WebSockets API"),
}
# Kraken's pre-2017 assets carry an X (crypto) or Z (fiat) prefix in balance and ledger ids; newer assets
# do not (so "ZEUS" or "XTZ" must not be stripped). The list is Kraken's `Assets` altnames of that era.
LEGACY = {
    "XXBT": "XBT",
    "XETH": "ETH",
    "XETC": "ETC",
    "XLTC": "LTC",
    "XMLN": "MLN",
    "XREP": "REP",
    "XXDG": "XDG",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XXRP": "XRP",
    "XZEC": "ZEC",
    "XICN": "ICN",
    "XNMC": "NMC",
    "XXVN": "XVN",
    "XDAO": "DAO",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZJPY": "JPY",
    "ZCAD": "CAD",
    "ZAUD": "AUD",
}
# Kraken balance suffixes (docs "Get Account Balance": "staking/earn balances are reported with a suffix").
SUFFIX_LOCATIONS = {
    "S": "staked",  # legacy staking
    "B": "staked",  # bonded staking (Kraken Earn)
    "P": "staked",  # parachain
    "M": "earn",  # opt-in rewards
    "F": "earn",  # auto-earn (flexible)
    "HOLD": "hold",  # funds on hold
}
# Used when ccxt's map does not know the id (it knows most legacy ids already).
ALIASES = {"XBT": "BTC", "XDG": "DOGE"}
LEDGER_PAGE = 50
MAX_LEDGER_PAGES = 400  # 20,000 entries per call; `since` pages further back


def permission_rule(answer: Any) -> KeyReport:
    result = parse.obj_at(parse.obj(answer, "GetApiKeyInfo"), "result", "GetApiKeyInfo")
    permissions = parse.arr_at(result, "permissions", "GetApiKeyInfo.result")
    found = Findings()
    for i, raw in enumerate(permissions):
        name = parse.text(raw, f"GetApiKeyInfo.result.permissions[{i}]")
        if name in READ:
            continue
        category, words = REFUSED.get(name, ("unknown", name))
        found.grant(category, words)
    found.read = "query-funds" in permissions
    if not found.read:
        found.need(READ["query-funds"])
    allowlist = result.get("ipAllowlist")
    valid_until = result.get("validUntil")
    created = result.get("createdTime")
    return found.report(
        ip_restricted=bool(parse.arr(allowlist, "GetApiKeyInfo.result.ipAllowlist")) if allowlist is not None else None,
        key_expires_at=parse.epoch(valid_until, "GetApiKeyInfo.result.validUntil", unit="s")
        if valid_until is not None
        else None,
        key_created_at=parse.epoch(created, "GetApiKeyInfo.result.createdTime", unit="s")
        if created is not None
        else None,
    )


class Kraken(Adapter):
    info = VenueInfo(
        id="kraken",
        name="Kraken",
        enable=READ["query-funds"],
        leave_off=tuple(words for _, words in REFUSED.values()),
        verification="exchange",
        permission_endpoint="POST /0/private/GetApiKeyInfo",
        rule="every string in `permissions` is one of query-funds, query-open-trades, query-closed-trades, "
        "query-ledger, and query-funds is there; anything else (including export-data, access-websockets and "
        "strings Kraken adds later) refuses the key.",
        wallets=(
            Wallet("spot", "Spot", "POST /0/private/BalanceEx"),
            Wallet("staked", "Earn: staked (.S), bonded (.B)", "POST /0/private/BalanceEx"),
            Wallet("earn", "Earn: opt-in rewards (.M), auto-earn (.F)", "POST /0/private/BalanceEx"),
            Wallet("hold", "Funds on hold (.HOLD)", "POST /0/private/BalanceEx"),
        ),
        not_covered="Kraken Futures uses separate keys (not supported). Margin positions are not netted: "
        "BalanceEx lists what the account holds.",
    )
    methods = frozenset({"privatePostGetApiKeyInfo", "privatePostBalanceEx", "privatePostLedgers"})
    # Kraken's answer to a wrong secret ("API error messages" support page); ccxt 4.5.90 has no entry for it, so
    # without this a mistyped secret would read as an unclassified, transient venue error.
    unmapped_errors = {"EAPI:Invalid signature": "AuthenticationError"}

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("privatePostGetApiKeyInfo"))

    def asset_code(self, code: str, location: str, common: Mapping[str, str]) -> tuple[str, str]:
        base, dot, suffix = code.partition(".")
        if dot:
            suffix_location = SUFFIX_LOCATIONS.get(suffix)
            if suffix_location is None:
                return code, location  # an unknown suffix stays visible as-is
            location = suffix_location
        if base == "ETH2":
            return "ETH", "staked"
        if base in common:
            return common[base], location
        base = LEGACY.get(base, base)
        return ALIASES.get(base, base), location

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        answer = parse.obj(await api.call("privatePostBalanceEx"), "BalanceEx")
        result = parse.obj_at(answer, "result", "BalanceEx")
        for asset, line in result.items():
            where = f"BalanceEx.result.{_safe(asset)}"
            row = parse.obj(line, where)
            # `balance` is the whole holding; `hold_trade` is the part reserved by open orders, inside it.
            sheet.add(str(asset), "spot", parse.amount_at(row, "balance", where))
        sheet.wallets["spot_and_earn"] = "ok"
        return sheet

    async def ledger(self, api: Api, since: datetime | None) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        offset = 0
        for _ in range(MAX_LEDGER_PAGES):
            params: dict[str, Any] = {"ofs": offset}
            if since is not None:
                params["start"] = int(since.timestamp())
            answer = parse.obj(await api.call("privatePostLedgers", params), "Ledgers")
            result = parse.obj_at(answer, "result", "Ledgers")
            page = parse.obj_at(result, "ledger", "Ledgers.result")
            for ledger_id, line in page.items():
                where = f"Ledgers.result.ledger.{_safe(ledger_id)}"
                row = parse.obj(line, where)
                moment = parse.decimal_at(row, "time", where)
                entries.append(
                    LedgerEntry(
                        id=str(ledger_id),
                        time=parse.epoch(int(moment), f"{where}.time", unit="s"),
                        kind=parse.text_at(row, "type", where),
                        asset=parse.text_at(row, "asset", where),
                        amount=parse.decimal_at(row, "amount", where),
                        fee=parse.amount(row.get("fee", "0"), f"{where}.fee"),
                    )
                )
            offset += len(page)
            count = result.get("count")
            if (
                not page
                or len(page) < LEDGER_PAGE
                or (count is not None and offset >= parse.integer(count, "Ledgers.result.count"))
            ):
                return entries
        return entries


def _safe(name: object) -> str:
    """A venue-supplied key used in an error path: bounded and printable."""
    return "".join(ch for ch in str(name)[:24] if ch.isalnum() or ch in "._-")


ADAPTER = Kraken()
