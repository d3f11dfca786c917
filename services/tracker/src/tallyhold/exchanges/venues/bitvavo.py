"""Bitvavo: no permission endpoint (unverifiable). Accepted only with `acknowledge_unverifiable`, after a
probe: cancelling an order with an impossible id on one market (never `DELETE /v2/orders`, which cancels
them all). Error 310 ("This key does not allow trading actions") proves the key cannot trade."""

from __future__ import annotations

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, TradeProbe


class Bitvavo(Adapter):
    info = VenueInfo(
        id="bitvavo",
        name="Bitvavo",
        enable="View information",
        leave_off=("Trade digital assets", "Withdraw digital assets"),
        verification="unverifiable",
        rule="no permission endpoint: a key is accepted only with `acknowledge_unverifiable`; the balance read "
        "proves read access and a cancel of an impossible order id must be refused with error 310.",
        probe="DELETE /v2/order?market=BTC-EUR&orderId=00000000-0000-0000-0000-000000000000",
        wallets=(Wallet("spot", "Balance (available + in order)", "GET /v2/balance"),),
        not_covered="Bitvavo staking and lending balances are not read. Withdrawal rights cannot be checked.",
    )
    methods = frozenset({"privateGetBalance", "privateDeleteOrder"})
    trade_probe = TradeProbe(
        "privateDeleteOrder",
        {"market": "BTC-EUR", "orderId": "00000000-0000-0000-0000-000000000000"},
        switch_off="Trade",
        denied_codes=frozenset({"310"}),
        code_keys=("errorCode",),
    )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        for i, line in enumerate(parse.arr(await api.call("privateGetBalance"), "balance")):
            where = f"balance[{i}]"
            row = parse.obj(line, where)
            total = parse.amount_at(row, "available", where) + parse.amount_at(row, "inOrder", where)
            sheet.add(parse.text_at(row, "symbol", where), "spot", total)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Bitvavo()
