"""One error base for everything the API answers with a status other than 2xx.

    TallyholdError(status, code)            rendered as {"error": {"code", "message", ...details}}
    ├── BadRequest                400  bad_request / invalid_json / unsupported_exchange / ...
    ├── Unauthorized              401  unauthorized
    ├── NotFound                  404  not_found
    ├── Conflict                  409  conflict
    ├── PayloadTooLarge           413  payload_too_large
    ├── TooManyAuthFailures       429  too_many_auth_failures (with Retry-After)
    ├── Unprocessable             422  invalid_request / invalid_amount / write_permissions / ...
    ├── ServiceUnavailable        503  vault_unavailable / database_unavailable / exchange_budget_busy (Retry-After)
    └── UpstreamError             502  exchange_unavailable (504 for timeouts)

Details are chosen by the code that raises; they never carry request input or a secret. Anything that is not a
TallyholdError reaching the boundary becomes a generic 500 `internal_error`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class TallyholdError(Exception):
    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, **details: Any) -> None:
        self.code = code or self.default_code
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}

    def headers(self) -> dict[str, str] | None:
        """Response headers the status needs (`WWW-Authenticate` for 401, `Retry-After` for 429)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r})"


class BadRequest(TallyholdError):
    status_code = 400
    default_code = "bad_request"
    default_message = "The request is malformed."


class Unauthorized(TallyholdError):
    status_code = 401
    default_code = "unauthorized"
    default_message = "A valid bearer token is required."

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class NotFound(TallyholdError):
    status_code = 404
    default_code = "not_found"
    default_message = "No such resource."


class Conflict(TallyholdError):
    status_code = 409
    default_code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(TallyholdError):
    status_code = 413
    default_code = "payload_too_large"
    default_message = "The request body is too large."


class TooManyAuthFailures(TallyholdError):
    """Too many failed authentications from the client's address (auth/throttle.py); valid credentials are
    still accepted from it."""

    status_code = 429
    default_code = "too_many_auth_failures"
    default_message = "Too many failed authentications from this address; retry after the time in Retry-After."

    def __init__(self, retry_after: str) -> None:
        super().__init__(retry_after_seconds=int(retry_after))
        self.retry_after = retry_after

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": self.retry_after}


class Unprocessable(TallyholdError):
    status_code = 422
    default_code = "invalid_request"
    default_message = "The request body is not valid."


class UpstreamError(TallyholdError):
    status_code = 502
    default_code = "upstream_unavailable"
    default_message = "An upstream service did not answer correctly."


class ServiceUnavailable(TallyholdError):
    status_code = 503
    default_code = "service_unavailable"
    default_message = "A service the instance depends on is unavailable; try again shortly."


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorBody(BaseModel):
    """The error body of every non-2xx answer: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for a route, so clients see the error body documented."""
    return {status: {"model": ErrorBody} for status in statuses}
