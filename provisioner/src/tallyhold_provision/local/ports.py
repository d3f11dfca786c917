from __future__ import annotations

import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - chosen only for the podman backend's pods (listen_address)


def listen_address(for_pods: bool) -> str:
    """Where a service of this host (the embedded Postgres and OpenBao, the demo's and the benches' fakes) listens:
    the loopback address, or every address when podman pods must reach it (a pod reaches the host at the host's
    address on the pod's network, never at 127.0.0.1)."""
    return EVERY_ADDRESS if for_pods else LOOPBACK


def host_url(url: str) -> str:
    """A URL a service listening on every address announced, as this host reaches it: the loopback address (the
    podman backend gives its pods the host's address on their network in its place)."""
    return url.replace(f"//{EVERY_ADDRESS}:", f"//{LOOPBACK}:")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def new_port(host: str, taken: set[int]) -> int:
    """A free port on `host` that is not one of `taken` (ports chosen a moment ago, not bound yet)."""
    while True:
        port = free_port(host)
        if port not in taken:
            return port


def answers_healthz(url: str, timeout: float = 2.0) -> bool:
    """Whether the instance at `url` answers /healthz with 200 now."""
    import httpx  # the CLI's light commands do not load it

    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def remembered_port(path: Path, host: str = "127.0.0.1") -> int:
    """The port recorded in `path` if it is still free, else a new free one (recorded for the next run)."""
    if path.exists():
        port = int(path.read_text().strip())
        if port_is_free(port, host):
            return port
    port = free_port(host)
    path.write_text(f"{port}\n")
    return port
