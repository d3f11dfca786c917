"""Tuning of chain reads, carried to the egress worker in `EgressConfig.options["chains"]` (built from the chain
settings by `from_settings`, then `TALLYHOLD_EGRESS_OPTIONS` on top)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the egress worker imports this module, and never the settings (nor SQLAlchemy through them)
    from tallyhold.settings import ChainSettings


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

    @classmethod
    def from_settings(cls, chains: ChainSettings) -> ChainOptions:
        """The options the settings name; the others keep their defaults (and stay unset, so that a dump with
        `exclude_unset` carries only what the operator can tune)."""
        return cls(
            evm_batch_size=chains.evm_batch_size,
            evm_batches_in_flight=chains.evm_batches_in_flight,
            evm_block_pin_seconds=chains.evm_block_pin_seconds,
            retries=chains.retries,
            timeout_seconds=chains.timeout_seconds,
            esplora_concurrency=chains.esplora_concurrency,
        )
