"""Gemini: `POST /v1/roles` proves read-only (the key holds the Auditor role, which Gemini never combines with
another); exchange, Earn and Staking balances are read."""

from __future__ import annotations

from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets

# Role flags of the roles answer and the names Gemini gives the roles ("Roles" page).
ROLES: dict[str, tuple[Category, str]] = {
    "isTrader": ("trade", "Trader"),
    "isFundManager": ("withdraw", "Fund Manager"),
    "isAdministrator": ("unknown", "Administrator"),
}


def permission_rule(answer: Any) -> KeyReport:
    roles = parse.obj(answer, "roles")
    for required in ("isAuditor", "isTrader", "isFundManager"):
        parse.field(roles, required, "roles")
    found = Findings()
    for name, value in roles.items():
        if not name.startswith("is"):
            # A true boolean under a name we do not know may be a right: refuse it rather than ignore it.
            if value is True:
                found.grant("unknown", name[:40])
            continue
        held = parse.flag(value, f"roles.{name}")
        if name == "isAuditor":
            found.read = held
        elif held:
            category, words = ROLES.get(name, ("unknown", name))
            found.grant(category, words)
    if not found.read:
        found.need("Auditor")
    return found.report()


class Gemini(Adapter):
    info = VenueInfo(
        id="gemini",
        name="Gemini",
        enable="Auditor",
        leave_off=tuple(words for _, words in ROLES.values()),
        verification="exchange",
        permission_endpoint="POST /v1/roles",
        rule="`isAuditor` is true and every other role flag (`isTrader`, `isFundManager`, `isAdministrator`, any new "
        "one) is false.",
        wallets=(
            Wallet("spot", "Exchange account", "POST /v1/balances"),
            Wallet("earn", "Earn", "POST /v1/balances/earn"),
            Wallet("staked", "Staking", "POST /v1/balances/staking"),
        ),
        not_covered="Other accounts of a master group (a key sees its own account), Gemini Custody and the "
        "Gemini Credit Card are not read.",
    )
    methods = frozenset(
        {"privatePostV1Roles", "privatePostV1Balances", "privatePostV1BalancesEarn", "privatePostV1BalancesStaking"}
    )

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("privatePostV1Roles"))

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()

        def reader(method: str, field: str, location: str) -> Any:
            async def read() -> None:
                for i, line in enumerate(parse.arr(await api.call(method), method)):
                    where = f"{method}[{i}]"
                    row = parse.obj(line, where)
                    amount = parse.amount_at(row, field, where)
                    sheet.add(parse.text_at(row, "currency", where), location, amount)

            return read

        await read_wallets(
            self,
            sheet,
            {
                "exchange": reader("privatePostV1Balances", "amount", "spot"),
                "earn": reader("privatePostV1BalancesEarn", "balance", "earn"),
                "staking": reader("privatePostV1BalancesStaking", "balance", "staked"),
            },
        )
        return sheet


ADAPTER = Gemini()
