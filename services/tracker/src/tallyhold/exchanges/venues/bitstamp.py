"""Bitstamp: no permission endpoint (unverifiable). Accepted only with `acknowledge_unverifiable`, after a
probe: cancelling order id 0, which cannot exist. Bitstamp grants each endpoint separately, so the probe can
only prove the key cannot cancel orders; buy, sell and withdrawal rights stay unknown."""

from __future__ import annotations

from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, TradeProbe


class Bitstamp(Adapter):
    info = VenueInfo(
        id="bitstamp",
        name="Bitstamp",
        enable="Account balance",
        leave_off=("Cancel order", "Buy/sell orders", "Withdrawals"),
        verification="unverifiable",
        rule="no permission endpoint: a key is accepted only with `acknowledge_unverifiable`; the balance read "
        "proves read access and a cancel of order id 0 must be refused with `No permission found`.",
        probe="POST /api/v2/cancel_order/ id=0 (an order that cannot exist; never cancel-all)",
        wallets=(Wallet("spot", "Account balances", "POST /api/v2/account_balances/"),),
        not_covered="Bitstamp Earn (staking and lending) and sub-accounts are not read.",
    )
    methods = frozenset({"privatePostAccountBalances", "privatePostCancelOrder"})
    trade_probe = TradeProbe(
        "privatePostCancelOrder",
        {"id": 0},
        switch_off="Cancel order (and every other trading or withdrawal permission)",
        proves_trade=False,  # per-endpoint rights: not cancelling proves nothing about buying
    )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        for i, line in enumerate(parse.arr(await api.call("privatePostAccountBalances"), "account_balances")):
            where = f"account_balances[{i}]"
            row: Any = parse.obj(line, where)
            amount = parse.amount_at(row, "total", where)
            sheet.add(parse.text_at(row, "currency", where), "spot", amount)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Bitstamp()
