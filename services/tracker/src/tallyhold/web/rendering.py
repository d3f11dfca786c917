"""HTML answers: the Jinja2 environment, number formatting for people, and the headers every page carries.

The Content-Security-Policy allows scripts, styles and everything else from the instance's own origin only, and
no inline script or style at all (the pages have none: data for scripts travels in `<script type=
"application/json">` blocks, which browsers never execute). It is set here, on every HTML answer, so no
later middleware's default can loosen it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tallyhold.types import MONEY_PRECISION

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Referrer-Policy same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the pages' own
# form posts, which the CSRF check (dependencies.same_origin) must refuse.
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
QUOTE_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CHF": "CHF "}
_CENT = Decimal("0.01")


def _grouped(value: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    return f"{rounded:,.{places}f}"


def _exact(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def money(value: Decimal | None, quote: str) -> Markup:
    """A value in the quote currency, for people (`$12,345.68`), with the exact value in a `<data>` element."""
    if value is None:
        return Markup('<span class="unpriced">unpriced</span>')
    sign = "−" if value < 0 else ""
    shown = f"{sign}{QUOTE_SYMBOLS.get(quote, quote + ' ')}{_grouped(abs(value), 2)}"
    exact = _exact(value)
    return Markup('<data value="{0}" title="exact: {0} {1}">{2}</data>').format(exact, quote, shown)


def amount(value: Decimal) -> Markup:
    """An asset amount: thousands separators, up to 8 decimals (fewer for large amounts), exact in `<data>`."""
    magnitude = abs(value)
    places = 2 if magnitude >= 1000 else 4 if magnitude >= 1 else 8
    shown = _grouped(value, places)
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    if shown in {"0", "-0"} and value != 0:
        shown = f"< {Decimal(1).scaleb(-places)}"
    return Markup('<data value="{0}" title="exact: {0}">{1}</data>').format(_exact(value), shown)


def signed_money(value: Decimal | None, quote: str) -> Markup:
    if value is None:
        return Markup('<span class="muted">no data</span>')
    plus = Markup("+") if value > 0 else Markup("")
    return plus + money(value, quote)


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(_CENT, rounding=ROUND_HALF_EVEN)} %"


def when(value: datetime | None) -> Markup:
    if value is None:
        return Markup('<span class="muted">never</span>')
    utc = value.astimezone(UTC)
    return Markup('<time datetime="{0}">{1}</time>').format(utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M UTC"))


@cache
def environment() -> Environment:
    """Built, and Jinja2 imported, at the first page asked for: an instance whose customer uses only the API
    never holds them (about 5 MiB of an idle instance's memory)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    built = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the package: no stat() of every template file on every page
    )
    built.filters.update(
        plain=_exact, money=money, amount=amount, signed_money=signed_money, percent=percent, when=when
    )
    built.globals["precision"] = MONEY_PRECISION
    return built


def render(template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    html = environment().get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def json_script(data: str) -> Markup:
    """JSON text for a `<script type="application/json">` block, whose content the browser never decodes:
    `<`, `>` and `&` become JSON escapes, so the data can never close the element or start markup."""
    # Safe: after these replacements the text cannot contain "<", ">" or "&", so it cannot form markup.
    return Markup(data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704 - escaped just before
