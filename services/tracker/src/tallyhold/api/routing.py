"""JSON parsing that keeps money exact: numbers with a fraction become Decimal (not float), and the
non-standard literals NaN/Infinity that Python's json module would accept are refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _refuse_constant(name: str) -> Any:
    raise ValueError("non-finite number")


class DecimalJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
            except json.JSONDecodeError:
                raise
            except (ValueError, RecursionError) as exc:
                # Bad UTF-8, NaN/Infinity, absurd nesting: all reported as invalid JSON (400 `invalid_json`).
                raise json.JSONDecodeError(type(exc).__name__, "", 0) from None
        return self._json


class DecimalJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_json_handler(request: Request) -> Response:
            return await handler(DecimalJSONRequest(request.scope, request.receive))

        return decimal_json_handler
