from __future__ import annotations

import socket
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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
