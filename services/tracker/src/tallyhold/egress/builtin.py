"""Operations of the worker itself: `egress.echo` proves the round trip (health checks, tests, benches)."""

from __future__ import annotations

import os

from tallyhold.egress.protocol import EgressConfig, EgressError, WireMessage


class EchoRequest(WireMessage):
    text: str
    fail_with: str | None = None


class EchoReply(WireMessage):
    text: str
    pid: int


async def echo(request: EchoRequest, config: EgressConfig) -> EchoReply:
    if request.fail_with:
        raise EgressError.of(request.fail_with, "requested failure", transient=True)
    return EchoReply(text=request.text, pid=os.getpid())
