"""`make run`: the embedded platform on one machine, with a demo customer, through the provisioner.

Starts (or adopts, when an earlier run left them up) embedded Postgres, OpenBao and supervisord; runs the
sandbox exchange venues and anvil as supervisord programs; converges the customer `demo` with
`tallyhold-provision`'s own code (registry, schema and roles, migrations, transit key and AppRole, supervised
instance); gives it a sandbox exchange connection, a funded wallet and two manual holdings (once); and prints
`url:` and a newly issued `token:` on lines of their own (stdout holds nothing else; each step and its time go to
stderr, and a failed step says what to do). A demo holding the instance refuses is a warning, not a failure. It
stays in the foreground; Ctrl-C (or SIGTERM) stops everything this run started, and when this process is killed
instead, its guard does (local/runguard.py); the next run resumes with the same data. All state lives under one
folder: `.tallyhold/` in the checkout, or `TALLYHOLD_STATE_DIR`.

The demo instance gets the venues' URLs (`TALLYHOLD_EXCHANGE_API_OVERRIDES`) and anvil's
(`TALLYHOLD_EVM_RPC_ETHEREUM`) as defaults; any `TALLYHOLD_` variable in the caller's environment wins.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tallyhold_provision.config import BackendName, ProvisionerSettings, default_state_dir
from tallyhold_provision.factory import build, local_platform
from tallyhold_provision.instance_env import passthrough
from tallyhold_provision.local.demo import ANVIL_PROGRAM, SANDBOX_PROGRAM, Chain, Venues, overrides_json, seed_customer
from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_provision.local.ports import listen_address
from tallyhold_provision.local.progress import StepFailed, Steps
from tallyhold_provision.local.runguard import Started, adopt_dead_run, start_guard, stop_started

DEMO_SLUG = "demo"
TOKEN_LABEL = "make run"  # noqa: S105 - a token's label, not a token


def state_dir() -> Path:
    return default_state_dir().resolve()


def demo_environment(venue_urls: dict[str, str], rpc_url: str, environ: dict[str, str]) -> dict[str, str]:
    """The demo instance's defaults, under whatever TALLYHOLD_ variables the caller set."""
    defaults = {
        "TALLYHOLD_EXCHANGE_API_OVERRIDES": overrides_json(venue_urls),
        "TALLYHOLD_EVM_RPC_ETHEREUM": rpc_url,
        "TALLYHOLD_SYNC_INTERVAL_SECONDS": "60",
    }
    return {**defaults, **passthrough(environ)}


def up(root: Path, started: Started, steps: Steps) -> tuple[str, str]:
    # TALLYHOLD_PROVISIONER_DEFAULT_BACKEND=podman: the demo runs as a container stack, so the platform, the
    # venues and the chain listen where its pod reaches them (the host's address on the pod's network).
    backend = ProvisionerSettings().DEFAULT_BACKEND
    in_container = backend is BackendName.podman
    # The local platform of this folder, whatever TALLYHOLD_PROVISIONER_* the caller's shell carries.
    settings = ProvisionerSettings(
        STATE_DIR=root, ADMIN_DATABASE_URL=None, VAULT_ADDR=None, VAULT_TOKEN=None, DEFAULT_BACKEND=backend
    )
    if in_container:
        from tallyhold_provision.podman.image import build as build_image

        # Layers reused: quick when `make image` ran since the last change.
        steps.run("the tracker's image", "run `make image` to see the build's own output", build_image)
    platform = local_platform(settings)
    listen = listen_address(platform.listen_all)
    logs = root / "logs"
    # Each start is recorded before it begins, so that a Ctrl-C (or a kill) in the middle of one still stops it.
    started.mark("postgres", not platform.postgres.running())
    steps.run("Postgres", f"read {platform.postgres.log}", platform.ensure_postgres)
    started.mark("openbao", not platform.openbao.running())
    steps.run("OpenBao", f"read {platform.openbao.log}", platform.ensure_openbao)
    started.mark("supervisor", not platform.supervisor.running())
    steps.run("supervisord", f"read {platform.supervisor.log_file}", platform.ensure_supervisor)
    venues = Venues(root / "sandbox", platform.supervisor, logs, host=listen)
    started.mark(SANDBOX_PROGRAM)
    venue_urls = steps.run("sandbox exchange venues", f"read {logs / 'sandbox.log'}", venues.ensure)
    started.mark(ANVIL_PROGRAM)
    chain = Chain(root / "anvil", platform.supervisor, logs, host=listen)
    anvil_hint = f"read {logs / 'anvil.log'}; `make install` installs anvil"
    rpc_url = steps.run("local chain (anvil)", anvil_hint, chain.ensure)
    environ = demo_environment(venue_urls, rpc_url, dict(os.environ))
    with build(settings, environ=environ) as provisioner:
        existing = provisioner.registry.get(DEMO_SLUG)
        # A demo made earlier on the other backend stays there (its data lives with it).
        chosen = existing.backend if existing is not None else backend.value
        created = steps.run(
            f"customer {DEMO_SLUG}",
            f"`.venv/bin/tallyhold-provision status {DEMO_SLUG}` names the step that failed; the instance's log is "
            f"in {logs}" + (" (podman: `podman logs`)" if chosen == BackendName.podman.value else ""),
            lambda: provisioner.create(DEMO_SLUG, backend=chosen, token_label=TOKEN_LABEL),
        )
        customer = created.customer
        if chosen == BackendName.podman.value:
            started.mark_pod(f"tallyhold-{customer.id}")
        else:
            started.mark(customer.id)
        # The first run shows the token `create` issued; later runs show a new one and revoke the earlier runs'
        # (same label), so no token stays valid that nobody holds any more.
        token = created.token or provisioner.token(DEMO_SLUG, TOKEN_LABEL, replace_label=True)[1].token
    assert customer.url is not None
    url = customer.url
    refused = steps.run(
        "demo holdings", f"read {logs / (customer.id + '.log')}", lambda: seed_customer(url, token, venues.demo_key())
    )
    for warning in refused:
        _say(f"warning: {warning}; the platform runs without it")
    return customer.url, token


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run() -> int:
    root = state_dir()
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)
    LocalPlatform(root).prepare()
    (root / "logs").mkdir(mode=0o700, exist_ok=True)
    (root / "logs").chmod(0o700)
    started = Started(root)
    try:
        adopt_dead_run(started, _say)
    except RuntimeError as exc:
        _say(f"error: {exc}")
        return 1
    guard = start_guard(started)  # from here on, whatever ends this process, what it started is stopped
    try:
        url, token = up(root, started, Steps(_say))
        print(f"url: {url}", flush=True)
        print(f"token: {token}", flush=True)
        _say(f"State: {root}. Ctrl-C stops everything this command started.")
        stop.wait()
    except KeyboardInterrupt:
        pass
    except StepFailed as exc:
        _say(f"error: {exc}")
        _say(f"what to do: {exc.hint}; then run `make run` again (it resumes where it stopped)")
        return 1
    except Exception as exc:
        _say(f"error: {type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("stopping…")
        stop_started(root, started, _say)
        started.clear()
        guard.stdin.close()  # type: ignore[union-attr]  # Popen(stdin=PIPE) always has it
        guard.wait()
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
