"""The local backend: each customer's instance is a supervisord program on this machine.

When the operator is root, each customer's instance (and the egress worker it starts) runs as an OS user of its
own, `tallyhold-<hex of the id>`, made on the first deploy and deleted by `remove` (local/osuser.py); the
launcher drops to it (local/launch.py). Layout under the state folder, with owner and mode when root:

    supervisor/...                root 0700: supervisord.conf, supervisord.sock, supervisord.log, conf.d/<id>.conf
    instances/                    root 0711: instances find their own folder, nobody lists the others
    instances/<id>/               root:<its group> 0750: the instance reads it, cannot add, rename or delete
    instances/<id>/env.json       <its user> 0600: its TALLYHOLD_ settings, read by the launcher as that user
    instances/<id>/secrets.json   root 0600: the durable secrets the provisioner reuses (database password,
                                  the wrapping token of its Vault secret id and that secret id's accessor);
                                  the instance has what it needs from env.json, never from here
    instances/<id>/run/           <its user> 0700: its working and home directory
    instances/<id>/run/vault-secret-id.json   <its user> 0600, written by the instance: the secret id it unwrapped
    logs/<id>.log                 root 0600 in a root 0700 folder: its stdout and stderr, written by supervisord

When the operator is not root there is nobody to switch to: everything is the operator's, folders 0700, files
0600, and the instances of one operator can read each other's files (README, "Local backend").

Each instance listens on 127.0.0.1 on its own ports (API and metrics), remembered in the registry and kept
across restarts unless something else took them meanwhile. supervisord restarts an instance that crashes.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tallyhold_provision.backends.base import BackendError, Endpoint, Health
from tallyhold_provision.local.files import read_json, write_private_json
from tallyhold_provision.local.forkserver import PROGRAM as FORKSERVER
from tallyhold_provision.local.forkserver import ensure_forkserver, restart_forkserver
from tallyhold_provision.local.osuser import RunAs, instance_identity, kill_processes_of, remove_instance_identity
from tallyhold_provision.local.ports import answers_healthz, new_port, port_is_free
from tallyhold_provision.local.supervisor import RUNNING_STATES, Program, Supervisor
from tallyhold_provision.registry import Customer
from tallyhold_provision.worker_slots import DEFAULT_WORKER_SLOTS, ensure_worker_slots

HOST = "127.0.0.1"


class LocalBackend:
    name = "local"
    vault_auth = "approle"

    def __init__(
        self,
        state_dir: Path,
        *,
        public_host: str = HOST,
        health_timeout: float = 60.0,
        worker_slots: int = DEFAULT_WORKER_SLOTS,
        forkserver: bool = True,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.supervisor = Supervisor(self.state_dir / "supervisor")
        self.public_host = public_host
        self.health_timeout = health_timeout
        self.worker_slots = worker_slots
        self.forkserver = forkserver
        self._forkserver_restarted = False  # restart(): once per provisioner run, before the first instance

    # -- files -----------------------------------------------------------------------------------------

    def instance_dir(self, customer: Customer) -> Path:
        return self.state_dir / "instances" / customer.id

    def log_file(self, customer: Customer) -> Path:
        return self.state_dir / "logs" / f"{customer.id}.log"

    def check_available(self) -> None:
        """The local backend is always available: supervisord is started here when it does not run."""

    def load_secrets(self, customer: Customer) -> dict[str, str]:
        data = read_json(self.instance_dir(customer) / "secrets.json") or {}
        return {str(k): str(v) for k, v in data.items()}

    def save_secrets(self, customer: Customer, secrets: dict[str, str]) -> None:
        self._instance_folder(customer)
        write_private_json(self.instance_dir(customer) / "secrets.json", secrets)

    # -- lifecycle -------------------------------------------------------------------------------------

    def deploy(self, customer: Customer, env: dict[str, str], *, running: bool) -> Endpoint:
        self.supervisor.start()
        ports = self._ports(customer)
        slots = ensure_worker_slots(self.state_dir, self.worker_slots)
        full_env = {
            "TALLYHOLD_HTTP_HOST": HOST,
            "TALLYHOLD_HTTP_PORT": str(ports["http_port"]),
            "TALLYHOLD_METRICS_HOST": HOST,
            "TALLYHOLD_METRICS_PORT": str(ports["metrics_port"]),
            **env,  # the operator's TALLYHOLD_ variables win, ports included
        }
        # The host's slots and fork server are the provisioner's folders, which only it writes (and the launcher
        # exposes): not folders of the operator's environment, which instances might be able to write.
        full_env.pop("TALLYHOLD_EGRESS_WORKER_SLOTS_DIR", None)
        if slots is not None:
            full_env["TALLYHOLD_EGRESS_WORKER_SLOTS_DIR"] = str(slots)
        full_env.pop("TALLYHOLD_EGRESS_FORKSERVER_SOCKET", None)
        forkserver = self._forkserver()
        if forkserver is not None:
            full_env["TALLYHOLD_EGRESS_FORKSERVER_SOCKET"] = str(forkserver)
        identity = self._instance_folder(customer)
        if "TALLYHOLD_VAULT_WRAPPED_SECRET_ID" in env:
            # In run/, the one folder the instance's own user may write: it keeps the secret id it unwrapped there.
            full_env["TALLYHOLD_VAULT_SECRET_ID_FILE"] = str(
                self.instance_dir(customer) / "run" / "vault-secret-id.json"
            )
        directory = self.instance_dir(customer)
        self._private_dir(self.log_file(customer).parent)
        env_changed = write_private_json(directory / "env.json", full_env, owner=identity.owner)
        user = ["--user", identity.user] if identity.user else []
        # The launcher, as root, shows the instance the slot and fork server folders (read-only) even when the
        # state folder above them is closed to others; from the command line, not from env.json, which root never
        # reads.
        exposed = [f"--expose={folder}" for folder in (slots, forkserver.parent if forkserver else None) if folder]
        program = Program(
            name=customer.id,
            command=[
                sys.executable,
                "-m",
                "tallyhold_provision.local.launch",
                *user,
                *exposed,
                str(directory / "env.json"),
            ],
            directory=directory,
            log_file=self.log_file(customer),
            autostart=running,
        )
        reloaded = self.supervisor.put(program)
        endpoint = self._endpoint(full_env, ports)
        if not running:
            self.supervisor.stop_program(customer.id)
            return endpoint
        if env_changed and not reloaded and self.supervisor.state(customer.id) in RUNNING_STATES:
            self.supervisor.restart_program(customer.id)
        else:
            self.supervisor.start_program(customer.id)
        self._wait_healthy(customer, endpoint.url)
        return endpoint

    def restart(self, customer: Customer) -> None:
        self.supervisor.start()
        if self.forkserver and not self._forkserver_restarted:
            restart_forkserver(self.supervisor)  # `upgrade`: the checkout may have changed under it
            self._forkserver_restarted = True
        self.supervisor.restart_program(customer.id)
        self._wait_healthy(customer, self._recorded_url(customer))

    def stop(self, customer: Customer) -> None:
        self.supervisor.stop_program(customer.id)

    def remove(self, customer: Customer) -> None:
        if self.supervisor.running():
            self.supervisor.stop_program(customer.id)
        self.supervisor.remove(customer.id)
        shutil.rmtree(self.instance_dir(customer), ignore_errors=True)
        log = self.log_file(customer)
        for rotated in log.parent.glob(f"{log.name}*"):
            rotated.unlink(missing_ok=True)
        kill_processes_of(customer.id)  # its egress workers, forked outside the instance's process group
        remove_instance_identity(customer.id)  # last: its processes are gone, and so are its files

    def exists(self, customer: Customer) -> bool:
        return (self.supervisor.conf_dir / f"{customer.id}.conf").exists() or self.instance_dir(customer).exists()

    def health(self, customer: Customer) -> Health:
        state = self.supervisor.state(customer.id)
        if state is None:
            return Health(False, "missing", "no supervisord program (is supervisord running?)")
        if state != "RUNNING":
            return Health(False, state.lower(), f"log: {self.log_file(customer)}")
        if customer.url is None:
            return Health(False, "unknown", f"no URL recorded; run `create {customer.slug}`")
        try:
            response = httpx.get(f"{customer.url}/healthz", timeout=3)
        except httpx.HTTPError:
            return Health(False, "unreachable", "the process runs but /healthz does not answer")
        if response.status_code != 200:
            return Health(False, "unhealthy", f"/healthz answered {response.status_code}")
        return Health(True, "running")

    def render(self, customer: Customer, env: dict[str, str]) -> str:
        raise BackendError("render is for the podman and kubernetes backends; a local instance has no manifests")

    # -- internals -------------------------------------------------------------------------------------

    def _forkserver(self) -> Path | None:
        if not self.forkserver:
            return None
        log_file = self.state_dir / "logs" / f"{FORKSERVER}.log"
        self._private_dir(log_file.parent)
        return ensure_forkserver(self.supervisor, self.state_dir, log_file)

    def _ports(self, customer: Customer) -> dict[str, int]:
        """Keep the recorded ports while they are ours (the program runs) or free; else take new ones."""
        recorded = customer.backend_state
        ours = self.supervisor.state(customer.id) in RUNNING_STATES
        ports: dict[str, int] = {}
        for key in ("http_port", "metrics_port"):
            port = recorded.get(key)
            if isinstance(port, int) and (ours or port_is_free(port)) and port not in ports.values():
                ports[key] = port
            else:
                ports[key] = new_port(HOST, set(ports.values()))
        return ports

    def _endpoint(self, env: dict[str, str], ports: dict[str, int]) -> Endpoint:
        metrics_port = int(env["TALLYHOLD_METRICS_PORT"])
        metrics = f"http://{self.public_host}:{metrics_port}/metrics" if metrics_port else None
        state: dict[str, Any] = dict(ports)
        return Endpoint(url=self._url(env), metrics_url=metrics, backend_state=state)

    def _recorded_url(self, customer: Customer) -> str:
        # From the registry, not from env.json: that file is the instance's own (it could rewrite it), and what
        # the provisioner does as root must not follow an instance's word.
        if customer.url is None:
            raise BackendError(f"{customer.slug} has no recorded URL; run `create {customer.slug}`")
        return customer.url

    def _url(self, env: dict[str, Any]) -> str:
        return f"http://{self.public_host}:{env.get('TALLYHOLD_HTTP_PORT', 0)}"

    def _wait_healthy(self, customer: Customer, url: str) -> None:
        deadline = time.monotonic() + self.health_timeout
        while True:
            if answers_healthz(url):
                return
            state = self.supervisor.state(customer.id)
            # EXITED and BACKOFF are transient (supervisord restarts the program); FATAL means it gave up.
            if state in {"FATAL", "STOPPED", None}:
                raise BackendError(f"the instance {customer.id} is {state or 'missing'}; see {self.log_file(customer)}")
            if time.monotonic() > deadline:
                raise BackendError(
                    f"the instance {customer.id} did not answer /healthz within {self.health_timeout:.0f} s; "
                    f"see {self.log_file(customer)}"
                )
            time.sleep(0.05)

    def _instance_folder(self, customer: Customer) -> RunAs:
        """The customer's folder with the owners and modes of the module's layout; the identity it runs as."""
        identity = instance_identity(customer.id)
        root = self.instance_dir(customer).parent
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o711 if identity.user else 0o700)
        directory = self.instance_dir(customer)
        directory.mkdir(exist_ok=True)
        runtime = directory / "run"
        runtime.mkdir(exist_ok=True)
        if identity.user:
            os.chown(directory, 0, identity.gid)
            directory.chmod(0o750)
            identity.chown(runtime)
        else:
            directory.chmod(0o700)
        runtime.chmod(0o700)
        return identity

    @staticmethod
    def _private_dir(path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
