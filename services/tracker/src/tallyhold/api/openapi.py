"""The OpenAPI document tells the truth about errors: every non-2xx answer has the contract's error body.

FastAPI documents its own 422 body (`HTTPValidationError`, with the `input` field our handler deliberately
removes); this replaces it, and declares the bearer scheme on every /v1 operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tallyhold.api.docstrings import restore_schema_docstrings
from tallyhold.errors import ErrorBody

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            restore_schema_docstrings()  # under `python -OO` (api/docstrings.py)
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            for detail in components["ErrorBody"].pop("$defs", {}).items():
                components.setdefault(detail[0], detail[1])
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    _rewrite_errors(operation, needs_token=path.startswith("/v1"))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema


def _rewrite_errors(operation: dict[str, Any], *, needs_token: bool) -> None:
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response["content"] = {"application/json": {"schema": _ERROR_REF}}
            response.setdefault("description", "Error")
    if "422" in responses:
        responses["422"]["description"] = "Invalid request (code `invalid_request`, `fields` lists loc/type/msg)"
    if needs_token:
        responses.setdefault(
            "401",
            {
                "description": "Missing, invalid, expired or revoked bearer token (code `unauthorized`)",
                "content": {"application/json": {"schema": _ERROR_REF}},
            },
        )
        responses.setdefault(
            "429",
            {
                "description": "Too many failed authentications from this client address (code "
                "`too_many_auth_failures`); a valid token is still accepted. Wait `Retry-After` seconds.",
                "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": _ERROR_REF}},
            },
        )
