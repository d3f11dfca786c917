"""The answer cache of the runtime, as a typed route dependency (`AnswerCacheDep`)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from tallyhold.api.dependencies import runtime_of
from tallyhold.portfolio.cache import AnswerCache


class PortfolioParts(Protocol):
    @property
    def answers(self) -> AnswerCache: ...


async def get_answer_cache(request: Request) -> AnswerCache:
    parts: PortfolioParts = runtime_of(request)
    return parts.answers


AnswerCacheDep = Annotated[AnswerCache, Depends(get_answer_cache)]
