"""One Trading (formerly Bitpanda Pro): no permission endpoint (unverifiable). Accepted only with
`acknowledge_unverifiable`, after a probe: cancelling an order id that cannot exist (never cancel-all);
MISSING_PERMISSION proves the key cannot trade."""

from __future__ import annotations

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, cancel_probe

PROBE = {"order_id": "00000000-0000-0000-0000-000000000000"}
NO_TRADING = frozenset({"MISSING_PERMISSION"})


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

    async def probe(self, api: Api) -> KeyReport:
        await self.balances(api, None)
        can_trade = await cancel_probe(
            api, "privateDeleteAccountOrdersOrderId", PROBE, denied_codes=NO_TRADING, code_keys=("error",)
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
        answer = parse.obj(await api.call("privateGetAccountBalances"), "balances")
        for i, line in enumerate(parse.arr(parse.field(answer, "balances", "balances"), "balances.balances")):
            where = f"balances[{i}]"
            row = parse.obj(line, where)
            total = parse.amount(parse.field(row, "available", where), f"{where}.available") + parse.amount(
                parse.field(row, "locked", where), f"{where}.locked"
            )
            sheet.add(parse.text(parse.field(row, "currency_code", where), where), "spot", total)
        sheet.wallets["spot"] = "ok"
        return sheet


ADAPTER = Onetrading()
