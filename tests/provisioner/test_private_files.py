"""Secret files of the local platform are 0600 from their creation on, never written at a wider mode
and chmod-ed afterwards. Each case runs in a fresh interpreter with umask 0 (a file created without an explicit
mode would come out 0666) and an audit hook that records every open and chmod under the case's folder: a secret
file must be created by an exclusive open (O_CREAT|O_EXCL) and never chmod-ed, and end up 0600."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.provisioner import ControlPlane

PROBE = """
import json, os, sys
from pathlib import Path

root = sys.argv[1]
events = []

def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(root):
        events.append(["open", args[0], args[2] if isinstance(args[2], int) else -1])
    elif event == "os.chmod" and (isinstance(args[0], int) or str(args[0]).startswith(root)):
        events.append(["chmod", str(args[0]), args[1]])

sys.addaudithook(hook)
os.umask(0)
exec(sys.argv[2])
print(json.dumps(events))
"""

CASES = {
    "helper": """
from tallyhold_provision.local.files import write_private, write_private_json
write_private(Path(root) / "secret", "first")
write_private(Path(root) / "secret", "second")
write_private_json(Path(root) / "secret.json", {"k": "v"}, owner=(os.getuid(), os.getgid()))
""",
    "postgres": """
from tallyhold_provision.local.postgres import LocalPostgres
server = LocalPostgres(Path(root) / "postgres")
server.start()
server.stop()
""",
    "openbao": """
from tallyhold_provision.local.openbao import LocalOpenBao
server = LocalOpenBao(Path(root) / "openbao")
server.start()
server.stop()
""",
    "instance": """
from tallyhold_provision.backends.local import LocalBackend
from tallyhold_provision.local.osuser import remove_instance_identity
from tallyhold_provision.local.platform import store_login
from tallyhold_provision.registry import Customer, State
from tallyhold_provision.vault import AppRoleLogin
customer = Customer("t_00000000000000f1", "files-co", "local", State.provisioning)
try:
    LocalBackend(Path(root) / "state").save_secrets(customer, {"database_password": "x"})
finally:
    remove_instance_identity(customer.id)
login = AppRoleLogin("role", "secret")
store_login(Path(root) / "state" / "provisioner" / "vault-approle.json", login, bootstrap="test")
""",
}
SECRETS = {
    "helper": ["secret", "secret.json"],
    "postgres": ["postgres/superuser.password"],
    "openbao": ["openbao/unseal-keys", "openbao/root-token"],
    "instance": ["state/instances/t_00000000000000f1/secrets.json", "state/provisioner/vault-approle.json"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_secret_files_are_created_0600_and_never_chmodded(case: str, platform_root: Path) -> None:
    root = platform_root / f"files-{case}"
    root.mkdir(mode=0o711)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), CASES[case]], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = json.loads(result.stdout.splitlines()[-1])
    for name in SECRETS[case]:
        path = root / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        # Every file that ever stood for it: the file itself and its temporary names in the same folder.
        stems = (str(path), str(path.with_name(f".{path.name}.")))
        creations = [e for e in events if e[0] == "open" and e[1].startswith(stems) and e[2] & os.O_CREAT]
        assert creations, f"no creation of {name} was seen"
        for _, opened, flags in creations:
            assert flags & os.O_EXCL, f"{opened} was created without O_EXCL"
            assert not flags & os.O_TRUNC, f"{opened} was opened for rewriting"
        chmods = [e for e in events if e[0] == "chmod" and (e[1].startswith(stems) or e[1].isdigit())]
        assert not chmods, f"{name} was chmod-ed: {chmods}"


def test_the_helper_never_follows_a_planted_temporary_link(platform_root: Path) -> None:
    from tallyhold_provision.local.files import write_private

    root = platform_root / "files-planted"
    root.mkdir(mode=0o700)
    victim = root / "victim"
    victim.write_text("untouched")
    (root / f".secret.{os.getpid()}.tmp").symlink_to(victim)
    write_private(root / "secret", "value")
    assert victim.read_text() == "untouched"
    assert (root / "secret").read_text() == "value"
    assert stat.S_IMODE((root / "secret").stat().st_mode) == 0o600


def test_platform_secret_files_are_private(control_plane: ControlPlane) -> None:
    """The session's own platform, as made by the code under test: secrets 0600, their folders closed."""
    for path in (
        control_plane.postgres.password_file,
        control_plane.openbao.unseal_keys_file,
        control_plane.openbao.root_token_file,
        control_plane.state_dir / "provisioner" / "vault-approle.json",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(control_plane.postgres.log.stat().st_mode) == 0o600
    assert stat.S_IMODE(control_plane.openbao.root.stat().st_mode) == 0o700


NON_ROOT_OPERATOR = """
import json, os, stat, sys
from pathlib import Path
from tallyhold_provision.local import launch
# An unprivileged operator: the launcher's own steps (namespace for the interpreter, then the drop).
launch.expose_hidden_paths(launch.needed_paths(Path(sys.argv[1]) / "state" / "env.json"))
launch.drop_to(sys.argv[2])
from tallyhold_provision.backends.local import LocalBackend
from tallyhold_provision.local.osuser import instance_identity, remove_instance_identity
from tallyhold_provision.registry import Customer, State
customer = Customer("t_00000000000000e2", "nonroot-co", "local", State.provisioning)
backend = LocalBackend(Path(sys.argv[1]) / "state")
backend.save_secrets(customer, {"database_password": "x"})
remove_instance_identity(customer.id)  # nothing to remove, and no attempt to
folder = backend.instance_dir(customer)
paths = {"instances": folder.parent, "folder": folder, "secrets.json": folder / "secrets.json", "run": folder / "run"}
found = {name: [p.stat().st_uid, stat.S_IMODE(p.stat().st_mode)] for name, p in paths.items()}
print(json.dumps({"identity": instance_identity(customer.id).user, "uid": os.getuid(), "found": found}))
"""


def test_an_operator_who_is_not_root_gets_no_users_and_private_files(platform_root: Path) -> None:
    """The fallback: the same code run by an unprivileged operator makes no OS user, changes no owner, and keeps
    every folder 0700 and every file 0600 (its instances then share its user: README, "Local backend")."""
    from tallyhold_provision.local.osuser import instance_identity, remove_instance_identity

    operator_id = "t_00000000000000e1"
    operator = instance_identity(operator_id)  # any unprivileged account stands in for the operator
    root = platform_root / "files-nonroot"
    root.mkdir(mode=0o711)
    (root / "state").mkdir(mode=0o700)
    os.chown(root / "state", operator.uid, operator.gid)
    try:
        assert operator.user is not None
        result = subprocess.run(
            [sys.executable, "-c", NON_ROOT_OPERATOR, str(root), operator.user],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.splitlines()[-1])
    finally:
        remove_instance_identity(operator_id)
    assert report["identity"] is None
    assert report["uid"] == operator.uid
    assert report["found"] == {
        "instances": [operator.uid, 0o700],
        "folder": [operator.uid, 0o700],
        "secrets.json": [operator.uid, 0o600],
        "run": [operator.uid, 0o700],
    }
