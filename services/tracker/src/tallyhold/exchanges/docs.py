"""The README's exchange tables, generated from the adapters' own descriptions so the two cannot drift apart
(tests/tracker/exchanges/test_docs.py compares them). `python -m tallyhold.exchanges.docs` prints them."""

from __future__ import annotations

from tallyhold.exchanges.registry import ADAPTERS

START = "<!-- exchanges:start -->"
END = "<!-- exchanges:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables() -> str:
    adapters = sorted(ADAPTERS.values(), key=lambda a: (a.info.verification != "exchange", a.info.name.lower()))
    lines = [
        "| exchange | ccxt id | read-only proven by | accepted when | extra credentials |",
        "|---|---|---|---|---|",
    ]
    for adapter in adapters:
        info = adapter.info
        proof = f"`{info.permission_endpoint}`" if info.permission_endpoint else f"unverifiable; probe: `{info.probe}`"
        extra = ", ".join(info.credentials) or "—"
        lines.append(f"| {info.name} | `{info.id}` | {_cell(proof)} | {_cell(info.rule)} | {extra} |")
    lines += [
        "",
        "Creating the key on the exchange (the same words the web page's guidance shows):",
        "",
        "| exchange | switch on | leave off |",
        "|---|---|---|",
    ]
    for adapter in adapters:
        info = adapter.info
        lines.append(f"| {info.name} | {_cell(info.enable)} | {_cell(', '.join(info.leave_off))} |")
    lines += ["", "| exchange | location | wallet | endpoint |", "|---|---|---|---|"]
    for adapter in adapters:
        info = adapter.info
        for wallet in info.wallets:
            lines.append(f"| {info.name} | `{wallet.location}` | {_cell(wallet.name)} | `{_cell(wallet.endpoint)}` |")
    lines += ["", "Not read, by exchange (so nothing is missing silently):", ""]
    for adapter in adapters:
        lines.append(f"- **{adapter.info.name}**: {adapter.info.not_covered}")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(tables(), end="")  # noqa: T201 - a documentation generator prints its output


if __name__ == "__main__":
    main()
