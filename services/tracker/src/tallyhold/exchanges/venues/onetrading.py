"""One Trading (formerly Bitpanda Pro): no permission endpoint (unverifiable). Accepted only with
`acknowledge_unverifiable`, after a probe: cancelling an order id that cannot exist (never cancel-all);
MISSING_PERMISSION proves the key cannot trade."""

from __future__ import annotations

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, TradeProbe


class Onetrading(Adapter):
    info = VenueInfo(
        id="onetrading",
        name="One Trading",
        enable="Read",
        leave_off=("Trade", "Withdraw"),
        verification="unverifiable",
        rule="no permission endpoint: a key is accepted only with `acknowledge_unverifiable`; the balance read "
        "proves read access and a cancel of an impossible order id must be refused with MISSING_PERMISSION.",
        probe="DELETE /fast/v1/account/orders/00000000-0000-0000-0000-000000000000",
        wallets=(Wallet("spot", "Account balances (available + locked)", "GET /fast/v1/account/balances"),),
        not_covered="Withdrawal rights cannot be checked.",
    )
    methods = frozenset({"privateGetAccountBalances", "privateDeleteAccountOrdersOrderId"})
    trade_probe = TradeProbe(
        "privateDeleteAccountOrdersOrderId",
        {"order_id": "00000000-0000-0000-0000-000000000000"},
        switch_off="Trade",
        denied_codes=frozenset({"MISSING_PERMISSION"}),
        code_keys=("error",),
    )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        answer = parse.obj(await api.call("privateGetAccountBalances"), "balances")
        for i, line in enumerate(parse.arr_at(answer, "balances", "balances")):
            where = f"balances.balances[{i}]"
            row = parse.obj(line, where)
            total = parse.amount_at(row, "available", where) + parse.amount_at(row, "locked", where)
            sheet.add(parse.text_at(row, "currency_code", where), "spot", total)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Onetrading()
