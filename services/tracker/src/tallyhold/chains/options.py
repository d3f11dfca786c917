"""Tuning of chain reads, carried to the egress worker in `EgressConfig.options["chains"]` (settings.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChainOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    evm_batch_size: int = Field(100, ge=1, le=1000)
    evm_batches_in_flight: int = Field(2, ge=1, le=16)
    evm_block_pin_seconds: float = Field(10.0, ge=0)
    # How long a balance read waits for other wallets of the same chain before its batches go out: the reads of
    # one sync then share batches and one block even though the sync engine asks per connection.
    evm_coalesce_seconds: float = Field(0.05, ge=0, le=5)
    retries: int = Field(3, ge=0, le=10)
    retry_base_seconds: float = Field(0.25, ge=0, le=10)
    retry_cap_seconds: float = Field(8.0, ge=0, le=120)
    timeout_seconds: float = Field(10.0, gt=0)
    esplora_concurrency: int = Field(4, ge=1, le=32)

    @classmethod
    def of(cls, options: dict[str, Any]) -> ChainOptions:
        return cls.model_validate(options.get("chains") or {})
