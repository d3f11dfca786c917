"""Crypto.com Exchange: no permission endpoint (unverifiable). Accepted only with `acknowledge_unverifiable`,
after a probe: cancelling an order id that cannot exist (never cancel-all)."""

from __future__ import annotations

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, TradeProbe


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
    trade_probe = TradeProbe("v1PrivatePostPrivateCancelOrder", {"order_id": "0"}, switch_off="Enable Trading")

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        answer = parse.obj(await api.call("v1PrivatePostPrivateUserBalance"), "user-balance")
        result = parse.obj_at(answer, "result", "user-balance")
        for a, account in enumerate(parse.arr_at(result, "data", "user-balance.result")):
            positions = parse.arr_at(
                parse.obj(account, f"user-balance.result.data[{a}]"),
                "position_balances",
                f"user-balance.result.data[{a}]",
            )
            for i, line in enumerate(positions):
                where = f"user-balance.result.data[{a}].position_balances[{i}]"
                row = parse.obj(line, where)
                quantity = parse.decimal_at(row, "quantity", where)
                sheet.net(parse.text_at(row, "instrument_name", where), "spot", quantity)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Cryptocom()
