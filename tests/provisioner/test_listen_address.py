"""Where the host's services listen for each backend, and the URLs this host then reaches them at: shared by the
embedded Postgres and OpenBao, `make run`'s demo venues and chain, and the capacity bench's fakes."""

from __future__ import annotations

from pathlib import Path

from tallyhold_provision.config import BackendName, ProvisionerSettings
from tallyhold_provision.factory import local_platform
from tallyhold_provision.local.ports import host_url, listen_address


def test_loopback_unless_pods_must_reach_the_service() -> None:
    assert listen_address(False) == "127.0.0.1"
    assert listen_address(True) == "0.0.0.0"  # noqa: S104 - what is asserted, not bound


def test_a_url_announced_on_every_address_is_reached_on_loopback() -> None:
    assert host_url("http://0.0.0.0:18545") == "http://127.0.0.1:18545"
    assert host_url("http://0.0.0.0:9000/api/v3?x=1") == "http://127.0.0.1:9000/api/v3?x=1"
    assert host_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert host_url("https://esplora.example:443/api") == "https://esplora.example:443/api"


def test_the_platform_listens_on_every_address_only_when_podman_is_the_default(tmp_path: Path) -> None:
    for backend, everywhere in ((BackendName.local, False), (BackendName.podman, True)):
        settings = ProvisionerSettings(STATE_DIR=tmp_path, DEFAULT_BACKEND=backend)
        platform = local_platform(settings)
        assert platform.listen_all is everywhere
        assert platform.postgres.listen_all is everywhere
        assert platform.openbao.listen_all is everywhere
