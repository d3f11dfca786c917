"""The host's egress worker fork server (tallyhold/egress/forkserver.py) as a supervisord program of the local
backend, next to the instances it forks workers for.

Its socket is in a folder of its own under the state folder, made by the provisioner (root 0755 when root:
every instance's user must reach the socket, which is rw for all; the server decides nothing on who connects,
a worker always runs as exactly the user that connected). Each instance is told the socket's path
(`TALLYHOLD_EGRESS_FORKSERVER_SOCKET`) and gets the folder shown in its mount namespace (local/launch.py
`--expose`). An instance that cannot reach the server starts its worker itself, so neither a server that is
down nor one being restarted stops a sync.

supervisord runs `python -m tallyhold_provision.local.forkserver SOCKET` (`main` below), which binds the socket
and, as root, gives the server the mount namespace an instance gets (local/launch.py) before it becomes the
server: a worker forked as a customer's user must read what that user's instance reads, also when the
interpreter or the checkout sits below a folder the user may not enter.

The server loads the checkout's code once, at its start: `upgrade` restarts it (once per provisioner run,
before the first instance), so that forked workers run the code their upgraded instances run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tallyhold_provision.local.launch import expose_hidden_paths, outermost
from tallyhold_provision.local.supervisor import MAX_SOCKET_PATH, RUNNING_STATES, Program, Supervisor

PROGRAM = "egress-forkserver"  # never a customer's program name: those are customer ids, `t_<hex>`
FOLDER = "egress-forkserver"
SOCKET = "forkserver.sock"


def forkserver_socket(state_dir: Path) -> Path | None:
    """Where the state folder's fork server listens; None when the path is too long for a Unix socket."""
    path = state_dir / FOLDER / SOCKET
    return path if len(str(path).encode()) <= MAX_SOCKET_PATH else None


def ensure_forkserver(supervisor: Supervisor, state_dir: Path, log_file: Path) -> Path | None:
    """The fork server's program defined and running; the socket path to give the instances, None when there is
    none (a state folder too deep for a socket path: instances then start their workers themselves)."""
    path = forkserver_socket(state_dir)
    if path is None:
        return None
    folder = path.parent
    folder.mkdir(mode=0o755, exist_ok=True)
    if folder.stat().st_mode & 0o7777 != 0o755:
        folder.chmod(0o755)  # instances enter it to connect; only the provisioner and the server write it
    program = Program(
        name=PROGRAM,
        command=[sys.executable, "-m", "tallyhold_provision.local.forkserver", str(path)],
        directory=folder,
        log_file=log_file,
        autostart=True,
    )
    supervisor.put(program)
    if supervisor.state(PROGRAM) not in RUNNING_STATES:
        supervisor.start_program(PROGRAM)
    return path


def main() -> None:
    """`python -m tallyhold_provision.local.forkserver SOCKET`, supervisord's command: binds the socket, gives the
    server the instances' view of the filesystem (as root: the same mount namespace the instance launcher makes,
    so that a worker running as a customer's user can read the interpreter and the checkout even below a folder
    that user may not enter), then becomes `python -m tallyhold.egress.forkserver --listen-fd N`."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tallyhold_provision.local.forkserver SOCKET")
    # Imported here, not at the top: every provisioner command imports this module for its names above.
    from tallyhold.egress.forkserver import listening_socket

    path = Path(sys.argv[1]).resolve()
    listener = listening_socket(path)  # bound here, as root in the host's namespace, where the folder is writable
    if os.geteuid() == 0:
        expose_hidden_paths(outermost([path.parent]))
    descriptor = listener.detach()
    os.set_inheritable(descriptor, True)
    command = [sys.executable, "-P", "-m", "tallyhold.egress.forkserver", "--listen-fd", str(descriptor)]
    os.execve(sys.executable, command, dict(os.environ))  # noqa: S606 - our own module, no shell


def restart_forkserver(supervisor: Supervisor) -> None:
    """After an upgrade of the checkout: the server loads the new code (workers already forked keep theirs
    until they exit, as instances not yet restarted do)."""
    if supervisor.state(PROGRAM) is not None:
        supervisor.restart_program(PROGRAM)


if __name__ == "__main__":
    main()
