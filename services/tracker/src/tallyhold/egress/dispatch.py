"""Runs one operation: validate the request, call the handler, turn any failure into an `EgressFailure`.
Shared by the worker process and the in-process mode, so both behave identically."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from tallyhold.egress.operations import OPERATIONS
from tallyhold.egress.protocol import EgressConfig, EgressError, EgressFailure

logger = logging.getLogger("tallyhold.egress")


async def dispatch(op: str, payload: dict[str, Any], config: EgressConfig) -> dict[str, Any]:
    """Returns the reply as JSON-ready data; raises EgressError for every failure."""
    operation = OPERATIONS.get(op)
    if operation is None:
        raise EgressError.of("unknown_operation", "the egress worker has no such operation")
    try:
        request = operation.request_model().model_validate(payload)
    except ValidationError:
        raise EgressError.of("invalid_egress_request", "the request did not match its model") from None
    try:
        reply = await operation.handler_function()(request, config)
    except EgressError:
        raise
    except Exception as exc:  # the boundary: whatever a library raised becomes a code, never its text
        logger.warning("egress operation failed unexpectedly", extra={"op": op, "error_type": type(exc).__name__})
        raise EgressError(EgressFailure(code="egress_internal_error", transient=True)) from None
    return reply.model_dump(mode="json")
