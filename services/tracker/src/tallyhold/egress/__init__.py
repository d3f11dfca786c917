"""Egress: every outbound call to an exchange or a chain runs in a separate, short-lived worker process.

Why a process: ccxt (~60 MiB, every exchange imported at once) and web3 (~25 MiB) would otherwise stay in the
instance's memory forever after the first sync. The API process keeps the database, Vault and the scheduler;
the worker imports the heavy libraries, does the calls, answers, and exits after a short idle period.

It is also a boundary: the worker gets no database URL and no Vault token. Credentials it needs arrive
already decrypted inside a request on its stdin pipe (never in argv or the environment), are registered with
its own log redaction, and are dropped when the request is done.

    API process ── EgressClient.call(op, request) ──stdin JSON line──► worker (python -m tallyhold.egress.worker)
               ◄──────────────────── reply JSON line (stdout) ───────── handler registered for `op`

Operations are declared in `operations.py`: name → request model, reply model, handler import path.
"""
