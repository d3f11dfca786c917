"""The wire format between the API process and the egress worker: one JSON object per line.

parent → worker   {"config": {...}}                                   first line: non-secret settings
parent → worker   {"id": 7, "op": "exchange.balances", "payload": {...}}
worker → parent   {"id": 7, "ok": true, "result": {...}}
worker → parent   {"id": 7, "ok": false, "error": {"code": ..., "transient": ..., "retry_after": ...}}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The serialisation context of a request line: a model that holds secrets (an exchange key) writes their values
# only under it, and masks them in every other dump. `EgressClient.call` is the one place that passes it.
WIRE_CONTEXT: dict[str, Any] = {"egress_wire": True}


def reveals_secrets(context: Any) -> bool:
    """Whether a serialiser runs for the worker's stdin pipe (see WIRE_CONTEXT)."""
    return isinstance(context, dict) and context.get("egress_wire") is True


class WireMessage(BaseModel):
    """A request to the worker or its answer. Built at its first use (pydantic's `defer_build`), not at import:
    an idle instance sends none, and each message model's validator and serializer would otherwise be made at
    start-up in every instance (0.2 MiB for all of them)."""

    model_config = ConfigDict(defer_build=True)


class EgressConfig(BaseModel):
    """What the worker may know of the instance's settings: venue addresses and tuning, never credentials."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    log_level: str = "INFO"
    exchange_api_overrides: dict[str, str] = Field(default_factory=dict)
    evm_rpc: dict[str, str] = Field(default_factory=dict)
    esplora_url: str | None = None
    price_venues: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class EgressFailure(BaseModel):
    """A failed operation, by stable code. `message` is written by our code and never holds remote payloads."""

    code: str
    message: str = ""
    transient: bool = False
    retry_after: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EgressError(Exception):
    """Raised by handlers (in the worker) and re-raised by the client (in the API process)."""

    def __init__(self, failure: EgressFailure) -> None:
        self.failure = failure
        super().__init__(failure.code)

    @classmethod
    def of(
        cls, code: str, message: str = "", *, transient: bool = False, retry_after: float | None = None, **details: Any
    ) -> EgressError:
        return cls(
            EgressFailure(code=code, message=message, transient=transient, retry_after=retry_after, details=details)
        )

    @property
    def code(self) -> str:
        return self.failure.code

    @property
    def transient(self) -> bool:
        return self.failure.transient

    def __repr__(self) -> str:
        return f"EgressError(code={self.failure.code!r}, transient={self.failure.transient})"
