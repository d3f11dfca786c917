"""EVM reads through web3.py (egress worker only: the API process never imports this module).

Per chain (and RPC URL) a `ChainReader` reads native balances (`eth_getBalance`) and ERC-20 `balanceOf` calls
(`eth_call`) as JSON-RPC batches (`w3.batch_requests()`' wire form) of at most `evm_batch_size` balance reads.
Requests for the same chain that arrive within `evm_coalesce_seconds` of each other are merged first, so a
sync's wallets share batches and one block. A sync costs exactly ceil(balances / batch size) HTTP requests per
chain (plus one, only when a block lands during the first batch: see below).

- **the opening batch** carries, around the first chunk of balance reads (made at `latest`), three control calls:
  `[eth_chainId, eth_getBlockByNumber(latest), <reads at latest>, eth_blockNumber]`. A chain id other than the
  catalogue's is a permanent `chain_mismatch`, checked before any answer is used: balances from the wrong chain
  are never returned (a sync with nothing to read still sends `[eth_chainId, eth_getBlockByNumber(latest)]`).
  The block it names (number, hash, time) becomes the pinned head.
- **the bracket**: a node answers a batch's calls in order (geth's server runs them one after another) and its
  head only moves forward, so when the block number before the reads equals the one after them, the reads were
  made at that block. When they differ (a block landed mid-batch), that first chunk is read again pinned to the
  earlier number: one extra request, in that rare case only. An RPC that runs a batch's calls concurrently or
  spreads them over nodes could defeat the bracket, as it defeats any `latest` read; the pinned batches after
  it are unaffected (a node without the block answers an error, which is retried).
- **pinned reads**: every other batch names the head's block number; the head is kept for
  `evm_block_pin_seconds`, so every wallet read in that window is pinned to the same block (and within that
  window no control calls are sent: the chain id was checked when the head was read). Pins are by number: a
  reorg replacing that block between two batches is not detected.
- **failures**: each batch is retried with backoff and jitter on transport errors, HTTP 429/5xx, JSON-RPC
  errors and malformed answers; what still fails becomes an `EgressError` for the wallets whose reads were in
  that batch (for the opening batch, every wallet of the flush: without a head nothing can be pinned). Readers
  are independent: one chain's failure never touches another's.

Why this design rather than a separate head request: the head request was a full round trip before any balance
could be read; the control calls ride along in a batch that is sent anyway, and the bracket keeps the "one
block per sync" guarantee without trusting the RPC to serve a block it named a moment ago (a `latest` read
needs no block the node might not have yet).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_typing import ChecksumAddress, HexAddress, HexStr
from web3 import AsyncWeb3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3Exception, Web3RPCError
from web3.types import RPCEndpoint

from tallyhold.chains.catalog import CHAINS, ChainSpec
from tallyhold.chains.options import ChainOptions
from tallyhold.chains.retry import with_retries
from tallyhold.egress.protocol import EgressError

T = TypeVar("T")
logger = logging.getLogger("tallyhold.chains")

BALANCE_OF = "0x70a08231"  # balanceOf(address)
_REVERTED = 3  # JSON-RPC error code of a reverted eth_call (geth, anvil, erigon, nethermind)
SYMBOL = "0x95d89b41"  # symbol()
NAME = "0x06fdde03"  # name()
DECIMALS = "0x313ce567"  # decimals()


@dataclass(frozen=True)
class Head:
    chain_id: int
    number: int
    hash: str
    timestamp: int
    fetched_at: float  # time.monotonic()

    @property
    def block_time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True)
class Read:
    """One balance: the native coin (`contract is None`) or an ERC-20 held by `address`."""

    address: str
    contract: str | None = None


@dataclass
class ChainReader:
    spec: ChainSpec
    url: str
    options: ChainOptions
    _head: Head | None = None
    _head_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _queued: list[Read] = field(default_factory=list)
    _flush: asyncio.Task[tuple[Head, dict[Read, int | EgressError]]] | None = None

    # -- public ----------------------------------------------------------------------------------------------

    async def head(self, *, fresh: bool = False) -> Head:
        async with self._head_lock:
            current = self._pinned()
            if not fresh and current is not None:
                return current
            async with self._web3() as w3:
                head, _, _ = await self._retrying(lambda: self._opening_batch(w3, []), "head")
            self._head = head
            return head

    async def balances(self, reads: list[Read]) -> tuple[Head, dict[Read, int]]:
        """The raw integer balances (wei, token base units) of `reads`, all at one pinned block."""
        if self._flush is None:
            self._flush = asyncio.create_task(self._flush_after(self.options.evm_coalesce_seconds))
        self._queued.extend(reads)
        # Every caller of this window awaits the same task: its result, or its exception, reaches them all.
        # shield: one caller giving up must not cancel the reads of the others.
        head, results = await asyncio.shield(self._flush)
        mine = {read: results[read] for read in reads}
        failure = next((value for value in mine.values() if isinstance(value, EgressError)), None)
        if failure is not None:
            raise failure
        return head, {read: value for read, value in mine.items() if isinstance(value, int)}

    async def call_at(self, calls: Sequence[tuple[str, str]], block: int) -> list[bytes | None]:
        """`eth_call`s of (contract, data) at `block`, in one batch. A call that reverts answers None; then each
        call is sent on its own, so that one revert does not hide the other answers."""
        async with self._web3() as w3:
            try:
                return list(await self._retrying(lambda: self._batch_calls(w3, calls, block), "calls"))
            except _Reverted:
                return [await self._single_call(w3, contract, data, block) for contract, data in calls]

    async def _single_call(self, w3: AsyncWeb3[Any], contract: str, data: str, block: int) -> bytes | None:
        try:
            (answer,) = await self._retrying(lambda: self._batch_calls(w3, [(contract, data)], block), "call")
        except _Reverted:
            return None
        return answer

    async def code_at(self, contract: str, block: int) -> bytes:
        async with self._web3() as w3:
            return await self._retrying(lambda: self._get_code(w3, contract, block), "code")

    @property
    def pin_seconds(self) -> float:
        return self.options.evm_block_pin_seconds

    # -- coalescing ------------------------------------------------------------------------------------------

    async def _flush_after(self, delay: float) -> tuple[Head, dict[Read, int | EgressError]]:
        await asyncio.sleep(delay)
        reads, self._queued, self._flush = list(dict.fromkeys(self._queued)), [], None
        return await self._read_all(reads)

    async def _read_all(self, reads: list[Read]) -> tuple[Head, dict[Read, int | EgressError]]:
        size = self.options.evm_batch_size
        chunks = [reads[i : i + size] for i in range(0, len(reads), size)]
        gate = asyncio.Semaphore(self.options.evm_batches_in_flight)
        results: dict[Read, int | EgressError] = {}
        async with self._web3() as w3:
            # Under the head lock: a flush that starts while this one opens waits, then reuses the head.
            async with self._head_lock:
                head = self._pinned()
                if head is None:
                    first = chunks.pop(0) if chunks else []
                    head, opened = await self._open(w3, first)
                    results.update(opened)
                    self._head = head
            block = head.number

            async def one(chunk: list[Read]) -> None:
                async with gate:
                    try:
                        values = await self._retrying(lambda: self._batch_balances(w3, chunk, block), "balances")
                    except EgressError as exc:
                        results.update(dict.fromkeys(chunk, exc))
                        return
                results.update(zip(chunk, values, strict=True))

            await asyncio.gather(*(one(chunk) for chunk in chunks))
        return head, results

    async def _open(self, w3: AsyncWeb3[Any], chunk: list[Read]) -> tuple[Head, dict[Read, int | EgressError]]:
        """The opening batch (chain id, head, `chunk` at latest, block number); `chunk` read again at the head's
        block when a block landed while the node answered it."""
        head, values, moved = await self._retrying(lambda: self._opening_batch(w3, chunk), "opening batch")
        if moved:
            logger.info("block landed during the opening batch", extra={"chain": self.spec.name, "reads": len(chunk)})
            try:
                values = await self._retrying(lambda: self._batch_balances(w3, chunk, head.number), "balances")
            except EgressError as exc:
                return head, dict.fromkeys(chunk, exc)
        return head, dict(zip(chunk, values, strict=True))

    def _pinned(self) -> Head | None:
        current = self._head
        if current is not None and time.monotonic() - current.fetched_at <= self.pin_seconds:
            return current
        return None

    # -- one HTTP request each -------------------------------------------------------------------------------

    async def _opening_batch(self, w3: AsyncWeb3[Any], chunk: list[Read]) -> tuple[Head, list[int | EgressError], bool]:
        """[eth_chainId, eth_getBlockByNumber(latest), chunk at latest, eth_blockNumber] in one request: the head,
        the chunk's balances, and whether the block number moved while the node answered (then the balances
        may straddle two blocks and must not be used)."""
        calls = [
            (RPCEndpoint("eth_chainId"), []),
            (RPCEndpoint("eth_getBlockByNumber"), ["latest", False]),
            *_balance_calls(chunk, "latest"),
        ]
        if chunk:
            calls.append((RPCEndpoint("eth_blockNumber"), []))
        answers = await self._raw_batch(w3, calls)
        chain_id = _quantity(self._result(answers[0]))
        if chain_id != self.spec.chain_id:  # before any other answer is looked at: they come from the wrong chain
            raise EgressError.of(
                "chain_mismatch",
                f"the RPC configured for {self.spec.name} serves chain id {chain_id}, not {self.spec.chain_id}",
                chain=self.spec.name,
                expected_chain_id=self.spec.chain_id,
                rpc_chain_id=chain_id,
            )
        block = self._result(answers[1])
        if not isinstance(block, Mapping) or not isinstance(block.get("hash"), str):
            raise EgressError.of("malformed_response", "the RPC's head answer was not understood", transient=True)
        head = Head(
            chain_id=chain_id,
            number=_quantity(block.get("number")),
            hash=block["hash"],
            timestamp=_quantity(block.get("timestamp")),
            fetched_at=time.monotonic(),
        )
        read_answers = answers[2 : 2 + len(chunk)]
        values = [self._decode_balance(read, answer) for read, answer in zip(chunk, read_answers, strict=True)]
        moved = bool(chunk) and _quantity(self._result(answers[-1])) != head.number
        return head, values, moved

    async def _batch_balances(self, w3: AsyncWeb3[Any], chunk: list[Read], block: int) -> list[int | EgressError]:
        answers = await self._raw_batch(w3, _balance_calls(chunk, hex(block)))
        return [self._decode_balance(read, answer) for read, answer in zip(chunk, answers, strict=True)]

    async def _raw_batch(self, w3: AsyncWeb3[Any], calls: list[tuple[RPCEndpoint, Any]]) -> list[Any]:
        # The provider's batch call (what `w3.batch_requests()` sends through) with the params already in wire
        # form: web3's per-call request formatters cost more CPU than the round trips they batch (bench:
        # bench_chains.py), and raw answers let one reverting token fail alone instead of its whole batch.
        answers: Any = await self._translated(w3.provider.make_batch_request(calls))
        if not isinstance(answers, list):
            raise EgressError.of("rpc_error", f"the {self.spec.name} RPC refused the batch", transient=True)
        if len(answers) != len(calls):
            raise EgressError.of("malformed_response", "the RPC answered a batch partially", transient=True)
        return answers

    def _result(self, answer: Any) -> Any:
        """The `result` of one raw JSON-RPC answer; an error answer fails the whole batch (it is retried)."""
        if not isinstance(answer, Mapping):
            raise EgressError.of("malformed_response", "an RPC answer was not a JSON-RPC response", transient=True)
        if answer.get("error") is not None:
            raise EgressError.of("rpc_error", f"the {self.spec.name} RPC answered an error", transient=True)
        return answer.get("result")

    async def _batch_calls(self, w3: AsyncWeb3[Any], calls: Sequence[tuple[str, str]], block: int) -> list[bytes]:
        async with w3.batch_requests() as batch:
            for contract, data in calls:
                batch.add(w3.eth.call({"to": _checksummed(contract), "data": HexStr(data)}, block))
            answers: list[Any] = list(await self._translated(batch.async_execute(), reverts_raise=True))
        return [bytes(answer) for answer in answers]

    async def _get_code(self, w3: AsyncWeb3[Any], contract: str, block: int) -> bytes:
        return bytes(await self._translated(w3.eth.get_code(_checksummed(contract), block)))

    def _decode_balance(self, read: Read, answer: Any) -> int | EgressError:
        if not isinstance(answer, Mapping):
            raise EgressError.of("malformed_response", "an RPC answer was not a JSON-RPC response", transient=True)
        error = answer.get("error")
        if error is not None:
            if read.contract is not None and isinstance(error, Mapping) and error.get("code") == _REVERTED:
                return self._token_failed(read)
            # Rate limits, internal errors, pruned state: the whole batch is tried again.
            raise EgressError.of("rpc_error", f"the {self.spec.name} RPC answered an error", transient=True)
        result = answer.get("result")
        if not isinstance(result, str) or not result.startswith("0x"):
            raise EgressError.of("malformed_response", "an RPC result was not hex", transient=True)
        digits = result[2:]
        try:
            value = int(digits, 16) if digits else None
        except ValueError:
            raise EgressError.of("malformed_response", "an RPC result was not hex", transient=True) from None
        if read.contract is None:
            if value is None:
                raise EgressError.of("malformed_response", "a native balance was empty", transient=True)
            return value
        if len(digits) != 64 or value is None:
            return self._token_failed(read)  # no code there (empty answer) or not an ERC-20: never guess a zero
        return value

    def _token_failed(self, read: Read) -> EgressError:
        return EgressError.of(
            "token_read_failed",
            f"the token contract {read.contract} on {self.spec.name} did not answer balanceOf",
            contract=read.contract,
            chain=self.spec.name,
        )

    # -- plumbing --------------------------------------------------------------------------------------------

    def _web3(self) -> _Web3Session:
        return _Web3Session(self.url, self.options.timeout_seconds)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        return await with_retries(
            attempt,
            retries=self.options.retries,
            base=self.options.retry_base_seconds,
            cap=self.options.retry_cap_seconds,
            what=f"{self.spec.name} {what}",
        )

    async def _translated(self, call: Awaitable[T], *, reverts_raise: bool = False) -> T:
        """Library errors → `EgressError` by class (never by message text)."""
        chain = self.spec.name
        try:
            return await call
        except ContractLogicError:
            if reverts_raise:
                raise _Reverted from None
            raise EgressError.of("token_read_failed", f"a contract call reverted on {chain}", chain=chain) from None
        except BadFunctionCallOutput:
            raise EgressError.of("token_read_failed", f"a contract call failed on {chain}", chain=chain) from None
        except aiohttp.ClientResponseError as exc:
            if exc.status == 429:
                retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
                raise EgressError.of(
                    "rate_limited", f"the {chain} RPC is rate limiting", transient=True, retry_after=retry_after
                ) from None
            transient = exc.status >= 500 or exc.status == 408
            raise EgressError.of(
                "rpc_unavailable", f"the {chain} RPC answered HTTP {exc.status}", transient=transient, chain=chain
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise EgressError.of("rpc_unavailable", f"the {chain} RPC did not answer", transient=True) from None
        except Web3RPCError:
            raise EgressError.of("rpc_error", f"the {chain} RPC answered an error", transient=True) from None
        except (Web3Exception, ValueError, KeyError, TypeError, DecodingError):
            raise EgressError.of(
                "malformed_response", f"the {chain} RPC answered something unreadable", transient=True
            ) from None


class _Reverted(Exception):
    """A contract call reverted (token_info reads several optional methods and wants to know which)."""


class _Web3Session:
    """An AsyncWeb3 over one aiohttp session, closed on exit; web3's own retries are off (ours count)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.w3: AsyncWeb3[Any] = AsyncWeb3(
            AsyncWeb3.AsyncHTTPProvider(
                url,
                exception_retry_configuration=None,
                request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
            ),
            # No middleware: ENS resolution, transaction validation and attribute dicts are for sending and
            # for names; these are reads of EIP-55 addresses checked by the API process, and the validation
            # middleware alone costs more CPU than the HTTP round trips of a batched sync.
            middleware=[],
        )

    async def __aenter__(self) -> AsyncWeb3[Any]:
        return self.w3

    async def __aexit__(self, *exc: object) -> None:
        await self.w3.provider.disconnect()


def _checksummed(address: str) -> ChecksumAddress:
    """Addresses here were EIP-55 normalised by the API process; this only gives web3 the type it wants."""
    return ChecksumAddress(HexAddress(HexStr(address)))


def _balance_calls(chunk: list[Read], tag: str) -> list[tuple[RPCEndpoint, Any]]:
    return [
        (RPCEndpoint("eth_getBalance"), [read.address, tag])
        if read.contract is None
        else (
            RPCEndpoint("eth_call"),
            [{"to": read.contract, "data": BALANCE_OF + "0" * 24 + read.address[2:].lower()}, tag],
        )
        for read in chunk
    ]


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity ("0x1a"); anything else is a malformed answer."""
    if isinstance(value, str) and value.startswith("0x") and len(value) > 2:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise EgressError.of("malformed_response", "an RPC quantity was not hex", transient=True)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def decode_string(raw: bytes) -> str | None:
    """An ABI `string`, or a `bytes32` (older tokens such as MKR), or None."""
    try:
        (text,) = abi_decode(["string"], raw)
        return str(text)
    except (DecodingError, ValueError, OverflowError, UnicodeDecodeError):
        pass
    if len(raw) == 32:
        try:
            return raw.rstrip(b"\x00").decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def decode_uint8(raw: bytes) -> int | None:
    if len(raw) != 32:
        return None
    value = int.from_bytes(raw, "big")
    return value if value < 256 else None


# One reader per event loop, chain and URL: the head pin and the coalescing queue live there.
_READERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], ChainReader]] = (
    weakref.WeakKeyDictionary()
)


def reader_for(chain: str, url: str, options: ChainOptions) -> ChainReader:
    readers = _READERS.setdefault(asyncio.get_running_loop(), {})
    key = (chain, url)
    reader = readers.get(key)
    if reader is None or reader.options != options:
        reader = ChainReader(CHAINS[chain], url, options)
        readers[key] = reader
    return reader
