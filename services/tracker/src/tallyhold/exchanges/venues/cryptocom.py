"""Crypto.com Exchange: no permission endpoint (unverifiable). Accepted only with `acknowledge_unverifiable`,
after a probe: cancelling an order id that cannot exist (never cancel-all)."""

from __future__ import annotations

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, cancel_probe

PROBE = {"order_id": "0"}


class Cryptocom(Adapter):
    info = VenueInfo(
        id="cryptocom",
        name="Crypto.com Exchange",
        enable="Read (on by default)",
        leave_off=("Enable Trading", "Enable Withdrawal"),
        verification="unverifiable",
        rule="no permission endpoint: a key is accepted only with `acknowledge_unverifiable`; the balance read "
        "proves read access and a cancel of order id 0 must be refused as unauthorised.",
        probe="POST private/cancel-order order_id=0 (an order that cannot exist; never cancel-all)",
        wallets=(Wallet("spot", "Wallet balances (position balances, net)", "POST private/user-balance"),),
        not_covered="The Crypto.com App, Earn and derivatives sub-accounts are not read. Withdrawal rights cannot "
        "be checked.",
    )
    methods = frozenset({"v1PrivatePostPrivateUserBalance", "v1PrivatePostPrivateCancelOrder"})

    async def probe(self, api: Api) -> KeyReport:
        await self.balances(api, None)
        can_trade = await cancel_probe(api, "v1PrivatePostPrivateCancelOrder", PROBE)
        return KeyReport(
            read=True,
            trade=can_trade,
            withdraw=None,
            transfer=None,
            verified_by="unverifiable",
            switch_off=["Enable Trading"] if can_trade else [],
        )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        answer = parse.obj(await api.call("v1PrivatePostPrivateUserBalance"), "user-balance")
        result = parse.obj(parse.field(answer, "result", "user-balance"), "user-balance.result")
        for a, account in enumerate(parse.arr(parse.field(result, "data", "result"), "result.data")):
            where = f"result.data[{a}]"
            positions = parse.arr(parse.field(parse.obj(account, where), "position_balances", where), where)
            for i, line in enumerate(positions):
                row = parse.obj(line, f"{where}.position_balances[{i}]")
                quantity = parse.decimal(parse.field(row, "quantity", where), f"{where}[{i}].quantity")
                sheet.net(parse.text(parse.field(row, "instrument_name", where), where), "spot", quantity)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Cryptocom()
