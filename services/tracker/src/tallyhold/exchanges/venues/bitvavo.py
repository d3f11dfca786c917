"""Bitvavo: no permission endpoint (unverifiable). Accepted only with `acknowledge_unverifiable`, after a
probe: cancelling an order with an impossible id on one market (never `DELETE /v2/orders`, which cancels
them all). Error 310 ("This key does not allow trading actions") proves the key cannot trade."""

from __future__ import annotations

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, cancel_probe

PROBE = {"market": "BTC-EUR", "orderId": "00000000-0000-0000-0000-000000000000"}
NO_TRADING = frozenset({"310"})


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

    async def probe(self, api: Api) -> KeyReport:
        await self.balances(api, None)
        can_trade = await cancel_probe(
            api, "privateDeleteOrder", PROBE, denied_codes=NO_TRADING, code_keys=("errorCode",)
        )
        return KeyReport(
            read=True,
            trade=can_trade,
            withdraw=None,
            transfer=None,
            verified_by="unverifiable",
            switch_off=["Trade"] if can_trade else [],
        )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        for i, line in enumerate(parse.arr(await api.call("privateGetBalance"), "balance")):
            where = f"balance[{i}]"
            row = parse.obj(line, where)
            total = parse.amount(parse.field(row, "available", where), f"{where}.available") + parse.amount(
                parse.field(row, "inOrder", where), f"{where}.inOrder"
            )
            sheet.add(parse.text(parse.field(row, "symbol", where), where), "spot", total)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Bitvavo()
