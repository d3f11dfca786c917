from __future__ import annotations

import socket
from pathlib import Path


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
