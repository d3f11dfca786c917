"""The connection pages: list, add an exchange / wallet / manual holding, edit, replace a key, delete.

Each write goes through the API's own request models and services (the same checks, the same refusals), in one
transaction opened here; an exchange key is verified with no transaction open, like `POST /v1/connections/
exchange`. Secret fields are write-only: a page never puts a submitted secret back into a field, and a refused
wallet field that looked like a private key or recovery phrase is not echoed either."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from tallyhold.api.dependencies import SessionDep, StateDep
from tallyhold.auth import service as token_service
from tallyhold.chains import service as chain_service
from tallyhold.chains.schemas import WalletCreate
from tallyhold.connections import exchange as exchange_service
from tallyhold.connections import service as connection_service
from tallyhold.connections.schemas import (
    ConnectionUpdate,
    CredentialsReplace,
    ExchangeConnectionCreate,
    ManualConnectionCreate,
)
from tallyhold.credentials.runtime import VERIFIER, cipher_of
from tallyhold.db import transaction
from tallyhold.errors import TallyholdError
from tallyhold.exchanges.registry import ADAPTERS, venue_info
from tallyhold.security.guard import SecretMaterial, refuse_secret_material
from tallyhold.sync.runtime import sync_soon
from tallyhold.web import pages
from tallyhold.web.dependencies import CheckedForm, PageSession
from tallyhold.web.endpoints import redirect
from tallyhold.web.forms import fields_of, refusal
from tallyhold.web.rendering import render
from tallyhold.web.sessions import ActiveSession
from tallyhold.web.words import error_words

router = APIRouter(prefix="/connections", include_in_schema=False)
KEY_FIELDS = ("api_key", "api_secret", "passphrase", "uid")
NOTICES = {"added": "Connection added.", "saved": "Changes saved.", "deleted": "Connection deleted.",
           "replaced": "Key replaced; the connection syncs again with it now."}  # fmt: skip


def _page(template: str, active: ActiveSession, status_code: int = 200, **context: Any) -> Response:
    return render(template, {"csrf_token": active.csrf_token, "nav": "connections", **context}, status_code=status_code)


def _exchanges() -> list[Any]:
    return sorted((a.info for a in ADAPTERS.values()), key=lambda i: (i.verification != "exchange", i.name.lower()))


@router.get("")
async def list_connections(
    active: PageSession, session: SessionDep, state: StateDep, done: str | None = None
) -> Response:
    rows = await pages.connections(session, state)
    return _page(
        "connections.html",
        active,
        title="Connections",
        rows=rows,
        egress_ips=[str(ip) for ip in state.settings.egress.ips],
        notice=NOTICES.get(done or ""),
        error_words=error_words,
        reminder_days=pages.KEY_AGE_REMINDER_DAYS,
    )


# -- exchanges ---------------------------------------------------------------------------------------------------


def _exchange_form(active: ActiveSession, exchange: str | None, status_code: int = 200, **context: Any) -> Response:
    info = venue_info(exchange) if exchange else None
    return _page(
        "exchange_form.html",
        active,
        status_code,
        title=f"Connect {info.name}" if info else "Connect an exchange",
        exchanges=_exchanges(),
        info=info,
        **context,
    )


@router.get("/new/exchange")
async def new_exchange(active: PageSession, state: StateDep, exchange: str | None = None) -> Response:
    return _exchange_form(active, exchange, egress_ips=[str(ip) for ip in state.settings.egress.ips])


@router.post("/new/exchange")
async def create_exchange(active: PageSession, form: CheckedForm, state: StateDep) -> Response:
    exchange = str(form.get("exchange") or "")
    label = str(form.get("label") or "")
    try:
        body = ExchangeConnectionCreate.model_validate(
            {
                **fields_of(form, ("exchange", "label", *KEY_FIELDS)),
                "acknowledge_unverifiable": form.get("acknowledge_unverifiable") == "yes",
            }
        )
        verified = await exchange_service.verify(
            body.exchange, body, cipher=cipher_of(state), verifier=state.services[VERIFIER]
        )
        async with transaction(state.session_maker) as session:
            await token_service.confirm_active(session, active.token_id)
            await exchange_service.store_new(
                session, body, verified, schema=state.settings.database.schema_name, actor=f"token:{active.token_id}"
            )
    except (TallyholdError, ValidationError) as exc:
        # The label is the customer's own non-secret text; the key fields are never sent back.
        return _exchange_form(
            active, exchange if exchange in ADAPTERS else None, 422, refused=refusal(exc), label=label
        )
    return redirect("/connections?done=added")


@router.get("/{connection_id}/key")
async def replace_key_page(active: PageSession, connection_id: uuid.UUID, session: SessionDep) -> Response:
    connection = await connection_service.get(session, connection_id)
    return _page("replace_key.html", active, title="Replace key", connection=connection,
                 info=venue_info(connection.exchange or ""))  # fmt: skip


@router.post("/{connection_id}/key")
async def replace_key(active: PageSession, form: CheckedForm, connection_id: uuid.UUID, state: StateDep) -> Response:
    try:
        async with transaction(state.session_maker) as session:
            exchange = await exchange_service.exchange_of(session, connection_id)
        body = CredentialsReplace.model_validate(
            {**fields_of(form, KEY_FIELDS), "acknowledge_unverifiable": form.get("acknowledge_unverifiable") == "yes"}
        )
        verified = await exchange_service.verify(
            exchange, body, cipher=cipher_of(state), verifier=state.services[VERIFIER]
        )
        async with transaction(state.session_maker) as session:
            await token_service.confirm_active(session, active.token_id)
            await exchange_service.store_replacement(
                session,
                connection_id,
                verified,
                schema=state.settings.database.schema_name,
                actor=f"token:{active.token_id}",
            )
    except (TallyholdError, ValidationError) as exc:
        async with transaction(state.session_maker) as session:
            connection = await connection_service.get(session, connection_id)
        return _page("replace_key.html", active, 422, title="Replace key", connection=connection,
                     info=venue_info(connection.exchange or ""), refused=refusal(exc))  # fmt: skip
    sync_soon(state, connection_id)
    return redirect("/connections?done=replaced")


# -- wallets -----------------------------------------------------------------------------------------------------


@router.get("/new/wallet")
async def new_wallet(active: PageSession, state: StateDep) -> Response:
    return _page(
        "wallet_form.html", active, title="Add a wallet", chains=chain_service.list_chains(state.settings).items
    )


@router.post("/new/wallet")
async def create_wallet(active: PageSession, form: CheckedForm, state: StateDep) -> Response:
    values = fields_of(form, ("chain", "address", "label"))
    try:
        refuse_secret_material(values)
        body = WalletCreate.model_validate(values)
        async with transaction(state.session_maker) as session:
            await chain_service.create_wallet(session, body, settings=state.settings, actor=f"token:{active.token_id}")
    except (TallyholdError, ValidationError) as exc:
        kept = {} if isinstance(exc, SecretMaterial) else values
        return _page("wallet_form.html", active, 422, title="Add a wallet", refused=refusal(exc), values=kept,
                     chains=chain_service.list_chains(state.settings).items)  # fmt: skip
    return redirect("/connections?done=added")


# -- manual holdings ---------------------------------------------------------------------------------------------


@router.get("/new/manual")
async def new_manual(active: PageSession, state: StateDep) -> Response:
    return _page(
        "manual_form.html", active, title="Add a holding", quote=state.settings.portfolio.quote_currency, values={}
    )


@router.post("/new/manual")
async def create_manual(active: PageSession, form: CheckedForm, state: StateDep) -> Response:
    values = fields_of(form, ("label", "asset", "amount", "price"))
    try:
        refuse_secret_material(values)
        body = ManualConnectionCreate.model_validate(values)
        async with transaction(state.session_maker) as session:
            await connection_service.create_manual(
                session,
                body,
                quote=state.settings.portfolio.quote_currency,
                limit=state.settings.limits.max_manual_connections,
                actor=f"token:{active.token_id}",
            )
    except (TallyholdError, ValidationError) as exc:
        kept = {} if isinstance(exc, SecretMaterial) else values
        quote = state.settings.portfolio.quote_currency
        return _page("manual_form.html", active, 422, title="Add a holding", quote=quote, refused=refusal(exc),
                     values=kept)  # fmt: skip
    return redirect("/connections?done=added")


@router.get("/{connection_id}/edit")
async def edit_page(active: PageSession, connection_id: uuid.UUID, session: SessionDep, state: StateDep) -> Response:
    connection = await connection_service.get(session, connection_id)
    return _page("edit_form.html", active, title=f"Edit {connection.label}", connection=connection,
                 quote=state.settings.portfolio.quote_currency)  # fmt: skip


@router.post("/{connection_id}/edit")
async def edit(active: PageSession, form: CheckedForm, connection_id: uuid.UUID, state: StateDep) -> Response:
    values: dict[str, str | None] = dict(fields_of(form, ("label", "amount", "price")))
    if form.get("kind") == "manual" and "price" not in values:
        values["price"] = None  # an emptied price field means "price it from the market"
    try:
        refuse_secret_material(values)
        body = ConnectionUpdate.model_validate(values)
        async with transaction(state.session_maker) as session:
            await connection_service.update(
                session,
                connection_id,
                body,
                quote=state.settings.portfolio.quote_currency,
                actor=f"token:{active.token_id}",
            )
    except (TallyholdError, ValidationError) as exc:
        async with transaction(state.session_maker) as session:
            connection = await connection_service.get(session, connection_id)
        return _page("edit_form.html", active, 422, title=f"Edit {connection.label}", connection=connection,
                     quote=state.settings.portfolio.quote_currency, refused=refusal(exc))  # fmt: skip
    return redirect("/connections?done=saved")


# -- delete ------------------------------------------------------------------------------------------------------


@router.get("/{connection_id}/delete")
async def delete_page(active: PageSession, connection_id: uuid.UUID, session: SessionDep) -> Response:
    connection = await connection_service.get(session, connection_id)
    return _page("delete.html", active, title=f"Delete {connection.label}", connection=connection)


@router.post("/{connection_id}/delete")
async def delete(active: PageSession, form: CheckedForm, connection_id: uuid.UUID, session: SessionDep) -> Response:
    await connection_service.delete(session, connection_id, actor=f"token:{active.token_id}")
    return redirect("/connections?done=deleted")
