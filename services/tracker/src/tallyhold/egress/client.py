"""The API process's side of egress: `EgressClient.call(op, request, ReplyModel)`.

`subprocess` mode (the default) starts the worker on demand (or has the host's fork server fork it, already
loaded: egress/forked.py) and reuses it while it lives; a worker that
retires (idle: it says so, is sent nothing more, and answers what it was already sent before its stdin is
closed) or crashes is replaced on the next call, and calls in flight when it dies fail as transient.
`inprocess` mode runs the same dispatch in this process (tests that do not exercise the boundary itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

from tallyhold import metrics
from tallyhold.egress import budget as egress_budget
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.forked import ForkedWorker, ForkServerUnavailable, fork_worker
from tallyhold.egress.protocol import WIRE_CONTEXT, EgressConfig, EgressError, EgressFailure
from tallyhold.egress.slots import Slot, SlotsBusy, WorkerSlots
from tallyhold.egress.worker import DEFAULT_IDLE_SECONDS, WORKER_ENVIRONMENT

logger = logging.getLogger("tallyhold.egress")
REPLY_LIMIT = 16 * 1024 * 1024  # the longest reply line read from a worker
FORKSERVER_BACKOFF_SECONDS = 600.0
ReplyT = TypeVar("ReplyT", bound=BaseModel)
_INHERITED_ENV = (*WORKER_ENVIRONMENT, "HOME")  # its run folder, for a started worker


class WorkerProcess(Protocol):
    """A running egress worker: a started child (asyncio's Process) or one the fork server forked (ForkedWorker)."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    @property
    def stdin(self) -> asyncio.StreamWriter | None: ...
    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


class EgressClient:
    def __init__(
        self,
        config: EgressConfig,
        *,
        mode: Literal["subprocess", "inprocess"] = "subprocess",
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        call_timeout: float = 120.0,
        budget: egress_budget.Budget | None = None,
        slots: WorkerSlots | None = None,
        forkserver: Path | None = None,
    ) -> None:
        self.config = config
        # The exchange budget shared with the other instances of this egress IP (exchanges/shared_budget.py); the worker
        # asks for it over the pipe. None: a call that needs it fails (egress_budget_unavailable).
        self.budget = budget
        # The host's bound on egress workers alive at once (egress/slots.py); None: no bound.
        self.slots = slots
        self._slots_busy_until = 0.0  # monotonic time until which a start fails at once (see _take_slot)
        # The host's egress worker fork server (egress/forkserver.py); None, or when it gives no worker: started
        # here, as a child of this process.
        self.forkserver = forkserver
        self._forkserver_off_until = 0.0  # monotonic time until which workers are started here (see _read_replies)
        self.mode = mode
        self.idle_seconds = idle_seconds
        self.call_timeout = call_timeout
        self._process: WorkerProcess | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, object]]] = {}
        self._sent_to: dict[int, WorkerProcess] = {}  # which worker each pending request went to
        self._ids = itertools.count(1)
        self._start_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._retired: set[WorkerProcess] = set()
        self._budget_answers: set[asyncio.Task[None]] = set()
        self.workers_started = 0

    async def call(self, op: str, request: BaseModel, reply_model: type[ReplyT]) -> ReplyT:
        payload = request.model_dump(mode="json", context=WIRE_CONTEXT)
        if self.mode == "inprocess":
            token = egress_budget.CURRENT.set(self.budget)
            try:
                return reply_model.model_validate(await dispatch(op, payload, self.config))
            finally:
                egress_budget.CURRENT.reset(token)
        message = await self._roundtrip(op, payload)
        if message.get("ok"):
            return reply_model.model_validate(message.get("result"))
        raise EgressError(EgressFailure.model_validate(message.get("error")))

    @property
    def worker_pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def release(self) -> None:
        """Lets the current worker go now rather than after its idle time (its instance's sync cycle is over):
        its memory and its host slot come back, and the next call starts another. Never waits: a worker being
        started, or one with a call in flight (a key check, a sync), is in use and stays."""
        process = self._process
        if self._start_lock.locked() or self._pending or process is None or process.returncode is not None:
            return
        await self._retire(process)

    async def aclose(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader_task is not None:
            await self._reader_task

    # -- subprocess plumbing -------------------------------------------------------------------------

    async def _roundtrip(self, op: str, payload: dict[str, object]) -> dict[str, object]:
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = (json.dumps({"id": request_id, "op": op, "payload": payload}) + "\n").encode()
        try:
            await self._send(request_id, line)
            return await asyncio.wait_for(future, self.call_timeout)
        except (BrokenPipeError, ConnectionResetError):
            raise EgressError.of("egress_worker_unavailable", "the egress worker exited", transient=True) from None
        except TimeoutError:
            raise EgressError.of("egress_timeout", "the egress worker did not answer in time", transient=True) from None
        finally:
            self._pending.pop(request_id, None)
            process = self._sent_to.pop(request_id, None)
            if process is not None and process in self._retired:
                await self._close_when_answered(process)

    async def _send(self, request_id: int, line: bytes) -> None:
        """Writes to the current worker; one that retired meanwhile is skipped for its successor."""
        while True:
            process = await self._ensure_worker()
            async with self._write_lock:
                if self._process is not process:
                    continue
                assert process.stdin is not None
                self._sent_to[request_id] = process
                process.stdin.write(line)
                await process.stdin.drain()
                return

    async def _retire(self, process: WorkerProcess) -> None:
        """The worker asked to go: nothing more is sent to it, and once it has answered what it was sent its
        stdin is closed so it exits (until then it may still ask for budget, answered on that stdin)."""
        async with self._write_lock:
            if self._process is process:
                self._process = None
            self._retired.add(process)
        await self._close_when_answered(process)

    async def _close_when_answered(self, process: WorkerProcess) -> None:
        async with self._write_lock:
            if any(sent is process for sent in self._sent_to.values()):
                return
            self._retired.discard(process)
            if process.stdin is not None:
                process.stdin.close()

    async def _answer_budget(self, process: WorkerProcess, question: dict[str, object]) -> None:
        """A worker's question to the shared budget (egress/budget.py PipeBudget), answered on its stdin."""
        reply: dict[str, object] = {"budget_reply": question.get("n")}
        try:
            if self.budget is None:
                raise egress_budget.BudgetUnavailable(egress_budget.BudgetUnavailable.code)
            venue, weight, hold = question.get("venue"), question.get("weight"), question.get("hold_back")
            if not isinstance(venue, str):
                raise egress_budget.BudgetUnavailable(egress_budget.BudgetUnavailable.code)
            banned = question.get("banned")
            if isinstance(hold, int | float) and isinstance(banned, bool):
                await self.budget.hold_back(venue, float(hold), banned=banned)
            elif isinstance(weight, int):
                grant = await self.budget.acquire(venue, weight, interactive=question.get("interactive") is True)
                reply.update(wait=grant.wait, hold=grant.hold)
            else:
                raise egress_budget.BudgetUnavailable(egress_budget.BudgetUnavailable.code)
        except egress_budget.BudgetUnavailable:
            reply["error"] = egress_budget.BudgetUnavailable.code
        async with self._write_lock:
            if process.stdin is None or process.stdin.is_closing():
                return
            process.stdin.write((json.dumps(reply) + "\n").encode())
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await process.stdin.drain()

    async def _ensure_worker(self) -> WorkerProcess:
        async with self._start_lock:
            process = self._process
            if process is not None and process.returncode is None:
                return process
            if self._reader_task is not None:
                await self._reader_task
            slot = await self._take_slot()
            try:
                process = await self._start_worker()
            except BaseException:
                if slot is not None:
                    slot.release()
                raise
            # Released when the worker has exited (_read_replies), whatever ends it.
            self._reader_task = asyncio.create_task(self._read_replies(process, slot))
            assert process.stdin is not None
            try:
                process.stdin.write((json.dumps({"config": self.config.model_dump(mode="json")}) + "\n").encode())
                await process.stdin.drain()
            except BaseException:
                process.stdin.close()  # a worker nobody will use exits now, not after its idle time with a slot
                raise
            self._process = process
            self.workers_started += 1
            metrics.EGRESS_WORKER_STARTS.inc()
            return process

    async def _start_worker(self) -> WorkerProcess:
        if self.forkserver is not None and time.monotonic() >= self._forkserver_off_until:
            try:
                forked = await fork_worker(self.forkserver, self.idle_seconds, limit=REPLY_LIMIT)
            except ForkServerUnavailable as exc:
                metrics.EGRESS_WORKER_FORKS.labels("unavailable").inc()
                logger.warning("the egress fork server gave no worker (%s): starting one here", exc)
            else:
                metrics.EGRESS_WORKER_FORKS.labels("forked").inc()
                return forked
        env = {key: os.environ[key] for key in _INHERITED_ENV if key in os.environ}
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",  # not the working directory first on sys.path, as `-m` would: nothing there is ours
            "-m",
            "tallyhold.egress.worker",
            str(self.idle_seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env=env,
            limit=REPLY_LIMIT,
        )

    async def _take_slot(self) -> Slot | None:
        """A host slot for the next worker. After a wait that found none, the calls queued behind it (they wait
        for `_start_lock`) fail at once for as long as a wait lasts, instead of each waiting as long again."""
        if self.slots is None:
            return None
        slot = self.slots.try_take()
        if slot is not None:
            return slot
        if time.monotonic() < self._slots_busy_until:
            raise self._slots_busy()
        try:
            slot = await self.slots.take()
        except SlotsBusy:
            metrics.EGRESS_WORKER_SLOT_WAITS.labels("busy").inc()
            self._slots_busy_until = time.monotonic() + self.slots.wait_seconds
            raise self._slots_busy() from None
        metrics.EGRESS_WORKER_SLOT_WAITS.labels("taken").inc()
        return slot

    def _slots_busy(self) -> EgressError:
        assert self.slots is not None
        return EgressError.of(
            "egress_worker_unavailable",
            "every egress worker slot of this host is taken",
            transient=True,
            retry_after=self.slots.wait_seconds,
        )

    async def _read_replies(self, process: WorkerProcess, slot: Slot | None) -> None:
        try:
            await self._read_until_exit(process)
        finally:
            if slot is not None:
                slot.release()

    async def _read_until_exit(self, process: WorkerProcess) -> None:
        assert process.stdout is not None
        answered = False
        while True:
            line = await process.stdout.readline()
            if not line:
                if not answered and isinstance(process, ForkedWorker):
                    # A forked worker that dies before its first line cannot work here (a server out of step
                    # with this instance's code, a filesystem it cannot read): its own workers for a while.
                    self._forkserver_off_until = time.monotonic() + FORKSERVER_BACKOFF_SECONDS
                    logger.warning("a forked egress worker exited before it answered: starting workers here")
                break
            answered = True
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if message.get("retiring"):
                    await self._retire(process)
                    continue
                if isinstance(message.get("budget"), dict):
                    task = asyncio.create_task(self._answer_budget(process, message["budget"]))
                    self._budget_answers.add(task)
                    task.add_done_callback(self._budget_answers.discard)
                    continue
                future = self._pending.get(message.get("id"))
                if future is not None and not future.done():
                    future.set_result(message)
        await process.wait()
        self._retired.discard(process)
        # Whatever this worker was sent and did not answer never will be (a crash: a retiring worker answers
        # everything first). Requests not sent yet go to its successor.
        gone = EgressError.of("egress_worker_unavailable", "the egress worker exited", transient=True)
        for request_id, future in list(self._pending.items()):
            if not future.done() and self._sent_to.get(request_id) is process:
                future.set_exception(gone)
                self._pending.pop(request_id, None)
