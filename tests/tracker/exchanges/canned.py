"""A venue that answers with the documented JSON of each endpoint, for the venues without a sandbox server.

It checks no signature (ccxt still signs every request, and the transport guard still checks every path):
what it proves is the adapter side of the wire: which endpoints are called with which parameters, how the
documented answers and error bodies are read, and how ccxt's classes for those errors are translated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Canned:
    url: str = ""
    routes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    delays: dict[tuple[str, str], float] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def answer(self, method: str, path: str, body: Any, status: int = 200, *, delay: float = 0.0) -> None:
        self.routes[(method.upper(), path)] = (status, body)
        if delay:
            self.delays[(method.upper(), path)] = delay

    def reset(self) -> None:
        self.routes.clear()
        self.delays.clear()
        self.seen.clear()

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.seen]
