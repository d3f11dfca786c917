"""Errors are translated here, at the boundary, into the contract's body `{"error": {"code", "message"}}`.

No handler ever includes the request body, a field's input value, or exception text from below: FastAPI's
default 422 echoes `input` (for a missing field that is the whole body, secrets included), so it is replaced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tallyhold.errors import TallyholdError
from tallyhold.metrics import count_api_error

logger = logging.getLogger("tallyhold.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
# Field names we may echo back: they come from our own schema. An unknown key is named only when it looks like
# an identifier, because a client could (by mistake) send a secret as a key.
_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
# pydantic's messages for these types quote part of the input: the character a UUID or date failed at, a
# discriminator tag, an attribute name. They are answered with the sentence before the quote.
_INPUT_QUOTING_MESSAGES = {
    "uuid_parsing": "Input should be a valid UUID.",
    "date_parsing": "Input should be a valid date in the format YYYY-MM-DD.",
    "date_from_datetime_parsing": "Input should be a valid date or datetime.",
    "time_parsing": "Input should be in a valid time format.",
    "datetime_parsing": "Input should be a valid datetime.",
    "datetime_from_date_parsing": "Input should be a valid datetime or date.",
    "datetime_object_invalid": "Input should be a valid datetime.",
    "time_delta_parsing": "Input should be a valid timedelta.",
    "timezone_offset": "Input has the wrong timezone offset.",
    "url_parsing": "Input should be a valid URL.",
    "url_syntax_violation": "Input violated strict URL syntax rules.",
    "union_tag_invalid": "Input tag does not match any of the expected tags.",
    "no_such_attribute": "Object has no such attribute.",
    "get_attribute_error": "Error extracting attribute.",
    "iteration_error": "Error iterating over object.",
    "mapping_type": "Input should be a valid mapping.",
    "bytes_invalid_encoding": "Data should be validly encoded.",
}
# Context pydantic fills from schema constraints, never from the input. A built-in error carrying any other
# context (a type added to pydantic later) gets a fixed sentence: fail closed rather than quote the input.
_SCHEMA_CONTEXT = frozenset(
    {
        "gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "expected_plural", "field_type",
        "actual_length", "pattern", "expected", "max_digits", "decimal_places", "whole_digits", "class_name",
        "expected_schemes", "expected_version", "discriminator", "expected_tags",
    }
)  # fmt: skip
# Our own validators raise ValueError/AssertionError with sentences we wrote, which never hold the input.
_OWN_MESSAGES = frozenset({"value_error", "assertion_error"})


def _safe_loc(loc: Sequence[Any], unknown_field: bool) -> list[str | int]:
    safe: list[str | int] = []
    for index, part in enumerate(loc):
        # The last element of an unknown field's location is the client's own key: echoed only when it is short
        # and identifier-shaped, since a long one could be a secret pasted as a key.
        client_key = unknown_field and index == len(loc) - 1
        echoable = isinstance(part, int) or (
            isinstance(part, str) and bool(_SAFE_KEY.fullmatch(part)) and not (client_key and len(part) > 24)
        )
        safe.append(part if echoable else "<field>")
    return safe


def _field_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    details: list[dict[str, Any]] = []
    code = "invalid_request"
    for error in exc.errors():
        kind = str(error.get("type", "invalid"))
        if kind == "json_invalid":
            return "invalid_json", []
        unknown = kind == "extra_forbidden"
        # Messages for our own validators are written by us and carry no input; pydantic's built-in messages
        # describe the expectation ("Input should be a valid integer"), except those safe_message rewrites.
        details.append(
            {"loc": _safe_loc(error.get("loc", ()), unknown), "type": kind, "msg": safe_message(kind, error)}
        )
    return code, details


def safe_message(kind: str, error: Any) -> str:
    """Pydantic's message for an error of this kind, unless it could quote the input: then a fixed sentence."""
    if kind in _INPUT_QUOTING_MESSAGES:
        return _INPUT_QUOTING_MESSAGES[kind]
    if kind in _OWN_MESSAGES or set(error.get("ctx") or {}) <= _SCHEMA_CONTEXT:
        return str(error.get("msg"))
    return "Input is not valid."


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, fields = _field_errors(exc)
    if code == "invalid_json":
        return _answer({"error": {"code": code, "message": "The request body is not valid JSON."}}, 400)
    body: dict[str, Any] = {"error": {"code": code, "message": "The request is not valid.", "fields": fields}}
    return _answer(body, 422)


async def _tallyhold_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TallyholdError)
    return _answer(exc.body(), exc.status_code, exc.headers())


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = {404: "No such resource.", 405: "Method not allowed."}.get(exc.status_code, "The request failed.")
    headers = dict(exc.headers) if exc.headers else None
    return _answer({"error": {"code": code, "message": message}}, exc.status_code, headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Only the exception class: its text and frame locals may hold anything.
    logger.error("unhandled error", extra={"error_type": type(exc).__name__, "path": request.url.path})
    body = {"error": {"code": "internal_error", "message": "The request could not be completed."}}
    return _answer(body, 500)


def _answer(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every error body leaves through here, so `tallyhold_api_errors_total` counts each one by its code."""
    count_api_error(str(body["error"]["code"]))
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TallyholdError, _tallyhold_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
