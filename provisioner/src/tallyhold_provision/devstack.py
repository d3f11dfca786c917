"""`make run`: the embedded platform on one machine, with a demo customer.

Starts Postgres from the checkout's own packages, converges the demo customer (schema, roles, migrations),
starts its instance, and prints `url:` and a fresh one-time `token:` on lines of their own. It stays in the
foreground; Ctrl-C stops everything it started; the next run resumes with the same data. All state lives
under one folder: `.tallyhold/` in the checkout, or `TALLYHOLD_STATE_DIR`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import httpx

from tallyhold_provision.database import TenantDatabase
from tallyhold_provision.local.ports import remembered_port
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.naming import TenantNames, new_customer_id

DATABASE = "postgres"
DEMO_HOLDINGS = (
    {"label": "Cash savings", "asset": "USD", "amount": "2500.00"},
    {"label": "Gold coins", "asset": "XAU", "amount": "2", "price": "2000.50"},
)


def state_dir() -> Path:
    return Path(os.environ.get("TALLYHOLD_STATE_DIR", ".tallyhold")).resolve()


def _private_json(path: Path, data: dict[str, str]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
    path.chmod(0o600)


def _demo_customer(root: Path) -> tuple[TenantNames, str, bool]:
    record = root / "demo.json"
    if record.exists():
        data = json.loads(record.read_text())
        return TenantNames(data["customer_id"]), data["app_password"], False
    names = TenantNames(new_customer_id())
    password = secrets.token_urlsafe(24)
    _private_json(record, {"customer_id": names.customer_id, "app_password": password})
    return names, password, True


def instance_environment(
    postgres: LocalPostgres, names: TenantNames, password: str, port: int, metrics_port: int
) -> dict[str, str]:
    """The instance's settings: our defaults, then any TALLYHOLD_ variable of the caller, which wins."""
    defaults = {
        "TALLYHOLD_ENV": "development",
        "TALLYHOLD_DATABASE_URL": postgres.url(names.app_role, password, DATABASE),
        "TALLYHOLD_DB_SCHEMA": names.schema,
        "TALLYHOLD_CUSTOMER_ID": names.customer_id,
        "TALLYHOLD_HTTP_PORT": str(port),
        "TALLYHOLD_METRICS_PORT": str(metrics_port),
    }
    caller = {k: v for k, v in os.environ.items() if k.startswith("TALLYHOLD_") and k != "TALLYHOLD_STATE_DIR"}
    return {**os.environ, **defaults, **caller}


def _tallyhold(env: dict[str, str], *args: str) -> str:
    exe = Path(sys.executable).with_name("tallyhold")
    result = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"error: tallyhold {args[0]} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


@contextmanager
def _instance(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    exe = Path(sys.executable).with_name("tallyhold")
    with log_path.open("ab") as log:
        process = subprocess.Popen([str(exe), "serve"], env=env, stdout=log, stderr=log)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("error: the instance exited during start-up; see .tallyhold/logs/")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("error: the instance did not become healthy within 30 s")


def _seed(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for holding in DEMO_HOLDINGS:
        httpx.post(f"{url}/v1/connections/manual", json=holding, headers=headers, timeout=10).raise_for_status()


def run() -> None:
    root = state_dir()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    postgres = LocalPostgres(root / "postgres")
    postgres.start()
    try:
        names, password, fresh = _demo_customer(root)
        with postgres.connect(DATABASE) as admin:
            TenantDatabase(names, DATABASE).create(admin, password)
        port = remembered_port(root / "instance.port")
        metrics_port = remembered_port(root / "metrics.port")
        env = instance_environment(postgres, names, password, port, metrics_port)
        migrate_env = {
            **env,
            "TALLYHOLD_MIGRATION_DATABASE_URL": postgres.url(database=DATABASE),
            "TALLYHOLD_MIGRATION_ROLE": names.owner_role,
        }
        _tallyhold(migrate_env, "migrate")
        token = _tallyhold(env, "token", "create", "--label", "make run").split("token: ", 1)[1].strip()
        url = f"http://127.0.0.1:{port}"
        with _instance(env, root / "logs" / "instance.log") as process:
            _wait_healthy(url, process)
            if fresh:
                _seed(url, token)
            print(f"url: {url}", flush=True)
            print(f"token: {token}", flush=True)
            print("Ctrl-C stops everything this command started.", file=sys.stderr, flush=True)
            _wait_for_interrupt(process)
    finally:
        postgres.stop()


def _wait_for_interrupt(process: subprocess.Popen[bytes]) -> None:
    stop = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, handle)
    try:
        while not stop and process.poll() is None:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.parse_args()
    run()


if __name__ == "__main__":
    main()
