"""`make run`: the embedded platform on one machine, with a demo customer, through the provisioner.

Starts (or adopts, when an earlier run left them up) embedded Postgres, OpenBao and supervisord; runs the
sandbox exchange venues and anvil as supervisord programs; converges the customer `demo` with
`tallyhold-provision`'s own code (registry, schema and roles, migrations, transit key and AppRole, supervised
instance); gives it a sandbox exchange connection, a funded wallet and two manual holdings (once); and prints
`url:` and a newly issued `token:` on lines of their own. It stays in the foreground; Ctrl-C (or SIGTERM) stops
everything this run started; the next run resumes with the same data. All state lives under one folder:
`.tallyhold/` in the checkout, or `TALLYHOLD_STATE_DIR`.

The demo instance gets the venues' URLs (`TALLYHOLD_EXCHANGE_API_OVERRIDES`) and anvil's
(`TALLYHOLD_EVM_RPC_ETHEREUM`) as defaults; any `TALLYHOLD_` variable in the caller's environment wins.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType

from tallyhold_provision.config import BackendName, ProvisionerSettings, default_state_dir
from tallyhold_provision.factory import build
from tallyhold_provision.instance_env import passthrough
from tallyhold_provision.local.demo import ANVIL_PROGRAM, SANDBOX_PROGRAM, Chain, Venues, overrides_json, seed_customer
from tallyhold_provision.local.platform import LocalPlatform

DEMO_SLUG = "demo"
TOKEN_LABEL = "make run"  # noqa: S105 - a token's label, not a token


def state_dir() -> Path:
    return default_state_dir().resolve()


@dataclass
class Started:
    """What this run started, so that Ctrl-C stops exactly that."""

    postgres: bool = False
    openbao: bool = False
    supervisor: bool = False
    programs: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)


def demo_environment(venue_urls: dict[str, str], rpc_url: str, environ: dict[str, str]) -> dict[str, str]:
    """The demo instance's defaults, under whatever TALLYHOLD_ variables the caller set."""
    defaults = {
        "TALLYHOLD_EXCHANGE_API_OVERRIDES": overrides_json(venue_urls),
        "TALLYHOLD_EVM_RPC_ETHEREUM": rpc_url,
        "TALLYHOLD_SYNC_INTERVAL_SECONDS": "60",
    }
    return {**defaults, **passthrough(environ)}


def up(root: Path, started: Started) -> tuple[str, str]:
    # TALLYHOLD_PROVISIONER_DEFAULT_BACKEND=podman: the demo runs as a container stack, so the platform, the
    # venues and the chain listen where its pod reaches them (the host's address on the pod's network).
    backend = ProvisionerSettings().DEFAULT_BACKEND
    in_container = backend is BackendName.podman
    if in_container:
        from tallyhold_provision.podman.image import build as build_image

        build_image()  # layers reused: quick when `make image` ran since the last change
    listen = "0.0.0.0" if in_container else "127.0.0.1"  # noqa: S104 - podman only: pods reach the host there
    platform = LocalPlatform(root, listen_all=in_container)
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    logs.chmod(0o700)
    # Each flag is set before the start, so that a Ctrl-C in the middle of one still stops it.
    started.postgres = not platform.postgres.running()
    platform.ensure_postgres()
    started.openbao = not platform.openbao.running()
    platform.ensure_openbao()
    started.supervisor = not platform.supervisor.running()
    platform.ensure_supervisor()
    venues = Venues(root / "sandbox", platform.supervisor, logs, host=listen)
    started.programs.append(SANDBOX_PROGRAM)
    venue_urls = venues.ensure()
    started.programs.append(ANVIL_PROGRAM)
    rpc_url = Chain(root / "anvil", platform.supervisor, logs, host=listen).ensure()
    # The local platform of this folder, whatever TALLYHOLD_PROVISIONER_* the caller's shell carries.
    settings = ProvisionerSettings(
        STATE_DIR=root, ADMIN_DATABASE_URL=None, VAULT_ADDR=None, VAULT_TOKEN=None, DEFAULT_BACKEND=backend
    )
    environ = demo_environment(venue_urls, rpc_url, dict(os.environ))
    with build(settings, environ=environ) as provisioner:
        existing = provisioner.registry.get(DEMO_SLUG)
        # A demo made earlier on the other backend stays there (its data lives with it).
        chosen = existing.backend if existing is not None else backend.value
        customer = provisioner.create(DEMO_SLUG, backend=chosen).customer
        if chosen == BackendName.podman.value:
            started.pods.append(f"tallyhold-{customer.id}")
        else:
            started.programs.append(customer.id)
        _, token = provisioner.token(DEMO_SLUG, TOKEN_LABEL)
    assert customer.url is not None
    seed_customer(customer.url, token, venues.demo_key())
    return customer.url, token


def down(root: Path, started: Started) -> None:
    """Stop what this run started, newest first. Errors are reported and the rest still stopped."""
    platform = LocalPlatform(root)
    steps: list[tuple[str, Callable[[], None]]] = []
    for pod in reversed(started.pods):
        steps.append((pod, partial(_stop_pod, pod)))
    if started.supervisor:
        steps.append(("supervisord and its programs", platform.supervisor.shutdown))
    else:
        for name in reversed(started.programs):
            steps.append((name, partial(platform.supervisor.stop_program, name)))
    if started.openbao:
        steps.append(("OpenBao", platform.openbao.stop))
    if started.postgres:
        steps.append(("Postgres", platform.postgres.stop))
    for what, stop in steps:
        try:
            stop()
        except Exception as exc:  # keep stopping the others; say which one failed and how
            print(f"warning: stopping {what} failed ({type(exc).__name__})", file=sys.stderr, flush=True)


def _stop_pod(pod: str) -> None:
    from tallyhold_provision.podman.engine import podman

    podman("pod", "stop", "--time", "15", pod)


def run() -> int:
    root = state_dir()
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)
    started = Started()
    try:
        url, token = up(root, started)
        print(f"url: {url}", flush=True)
        print(f"token: {token}", flush=True)
        print(f"State: {root}. Ctrl-C stops everything this command started.", file=sys.stderr, flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping…", file=sys.stderr, flush=True)
        down(root, started)
    return 0


def new_migration(message: str) -> int:
    """`make migration m=…`: autogenerate a migration against the demo customer's schema (at head)."""
    from tallyhold.migrations import new_revision

    settings = ProvisionerSettings(STATE_DIR=state_dir(), ADMIN_DATABASE_URL=None, VAULT_ADDR=None, VAULT_TOKEN=None)
    with build(settings) as provisioner:
        customer = provisioner.get(DEMO_SLUG)
        names = customer.names
        new_revision(provisioner.databases.migration_url(), names.schema, message, role=names.owner_role)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--new-migration", metavar="MESSAGE", help="autogenerate a migration (make migration)")
    args = parser.parse_args()
    sys.exit(new_migration(args.new_migration) if args.new_migration else run())


if __name__ == "__main__":
    main()
