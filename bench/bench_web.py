"""The customer's web pages: dashboard HTML render time with a year of history.

Everything runs for real, as in bench_api: embedded Postgres, OpenBao, a customer provisioned with the local
backend (supervised `tallyhold serve`), the sandbox venues in their own process, 10 Binance connections created
through the API and synced, and a year of 5-minute net-worth snapshots reduced by retention (what a year of
running leaves). The browser's part is left out: this is the server's answer, signed in with a real session.

Baseline in the same run: `GET /v1/networth` (the JSON the dashboard's total comes from), same load.
Target (issue 15, 2 cores): the dashboard's HTML (`GET /` and `GET /?range=1y`) in ≤ 50 ms p99.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.bench_api import _retention, _seed_history, load, provision, server_cpu_ms, show
from bench.sandbox import instance_environ, start_sandbox
from tallyhold_provision.config import ProvisionerSettings
from tallyhold_provision.factory import build
from tallyhold_provision.local.platform import LocalPlatform

RATE, SECONDS, P99_MS = 20, 15, 50.0
COOKIE = "__Host-tallyhold_session"
SIGN_IN_COOKIE = "__Host-tallyhold_sign_in"


def sign_in(base: str, token: str) -> dict[str, str]:
    """A session as the browser gets one: the sign-in page's CSRF token and cookie, then the form's post."""
    page = httpx.get(base + "/sign-in")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    posted = httpx.post(
        base + "/sign-in",
        data={"csrf_token": csrf, "token": token},
        headers={"Cookie": f"{SIGN_IN_COOKIE}={page.cookies[SIGN_IN_COOKIE]}"},
    )
    if posted.status_code != 303:
        raise RuntimeError(f"sign-in failed: {posted.status_code}")
    return {"Cookie": f"{COOKIE}={posted.cookies[COOKIE]}"}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-web-") as tmp:
        folder = Path(tmp)
        sandbox, urls = start_sandbox(folder, niceness=19)
        platform = LocalPlatform(folder / "state")
        platform.ensure_postgres()
        platform.ensure_openbao()
        settings = ProvisionerSettings(STATE_DIR=folder / "state")
        provisioner = build(settings, environ=instance_environ(urls))
        try:
            instance = provision(provisioner, platform, settings.TENANT_DATABASE, "bench-web", urls)
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            asyncio.run(_seed_history(instance.admin, now - timedelta(minutes=10)))
            asyncio.run(_retention(instance.admin, now))
            token = instance.headers["Authorization"].removeprefix("Bearer ")
            cookie = sign_in(instance.base, token)
            html = httpx.get(instance.base + "/?range=1y", headers=cookie).text
            points = len(json.loads(html.split('id="chart-data">', 1)[1].split("</script>", 1)[0])["t"])
            print(f"dashboard with a year of history: {points} chart points, {len(html) // 1024} KiB of HTML")
            base = instance.base
            networth_cpu = server_cpu_ms(instance.pid, base, instance.headers, "/v1/networth")
            print(f"baseline /v1/networth CPU per request: {networth_cpu:.2f} ms")
            for path in ("/", "/?range=1y"):
                cpu = server_cpu_ms(instance.pid, base, cookie, path)
                print(f"dashboard {path} CPU per request: {cpu:.2f} ms ({cpu / networth_cpu:.1f}× /v1/networth)")
            baseline = asyncio.run(load(base, instance.headers, "/v1/networth", RATE, SECONDS))
            show(f"baseline /v1/networth, {RATE} req/s", baseline)
            for path in ("/", "/?range=1y"):
                figures = asyncio.run(load(base, cookie, path, RATE, SECONDS))
                show(f"dashboard {path}, {RATE} req/s", figures, P99_MS)
                print(f"  against /v1/networth: p50 {figures['p50'] / baseline['p50']:.1f}×, "
                      f"p99 {figures['p99'] / baseline['p99']:.1f}×")  # fmt: skip
        finally:
            provisioner.close()
            platform.supervisor.shutdown()
            platform.openbao.stop()
            platform.postgres.stop()
            sandbox.terminate()
            sandbox.wait(10)


if __name__ == "__main__":
    main()
