"""The local OpenBao helper: durable storage, unseal material in 0600 files outside the database, reused on
the next start; the audit device declared in the config; adoption of a server left running."""

from __future__ import annotations

import base64
import json
import stat

import hvac
import pytest

from tallyhold_provision.local.openbao import LocalOpenBao


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    bao = LocalOpenBao(tmp_path_factory.mktemp("bao") / "openbao")
    bao.start()
    yield bao
    bao.stop()


def test_unseal_material_is_private_and_outside_storage(server):
    for path in (server.unseal_keys_file, server.root_token_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert server.data not in path.parents
    assert len(json.loads(server.unseal_keys_file.read_text())) == 1
    assert stat.S_IMODE(server.root.stat().st_mode) == 0o700


def test_engines_and_upsert_guard(server):
    admin = server.admin_client()
    assert "transit/" in admin.sys.list_mounted_secrets_engines()["data"]
    assert "approle/" in admin.sys.list_auth_methods()["data"]
    assert admin.read("transit/config/keys")["data"]["disable_upsert"] is True


def test_data_survives_a_restart_with_the_stored_keys(server):
    admin = server.admin_client()
    admin.secrets.transit.create_key("t_0123456789abcdef", derived=True)
    context = base64.b64encode(b"v1|t_0123456789abcdef|row|api_key").decode()
    ciphertext = admin.secrets.transit.encrypt_data(
        "t_0123456789abcdef", plaintext=base64.b64encode(b"kept").decode(), context=context
    )["data"]["ciphertext"]
    port = server.port
    server.stop()
    again = LocalOpenBao(server.root)
    again.start()  # unseals from the stored key, same port
    assert again.port == port
    plaintext = again.admin_client().secrets.transit.decrypt_data(
        "t_0123456789abcdef", ciphertext=ciphertext, context=context
    )["data"]["plaintext"]
    assert base64.b64decode(plaintext) == b"kept"
    server.port = again.port
    server._process = again._process


def test_a_running_server_is_adopted_not_doubled(server):
    pid = server._running_pid()
    twin = LocalOpenBao(server.root)
    twin.start()
    assert twin._running_pid() == pid
    assert twin.port == server.port


def test_killed_server_restarts_on_the_same_port_and_unseals(server):
    port = server.port
    server.kill()
    with pytest.raises(Exception):  # noqa: B017, PT011 - any connection error is the point
        hvac.Client(url=server.addr, timeout=1).sys.read_health_status(method="GET")
    server.restart()
    assert server.port == port
    assert not server.sealed()


def test_audit_device_logs_in_hmac_form(server):
    admin = server.admin_client()
    canary = b"audit-canary-7f3a9c"
    admin.secrets.transit.encrypt_data(
        "t_0123456789abcdef",
        plaintext=base64.b64encode(canary).decode(),
        context=base64.b64encode(b"v1|t_0123456789abcdef|row|api_key").decode(),
    )
    audit = server.audit_log.read_text()
    assert "transit/encrypt/t_0123456789abcdef" in audit
    assert canary.decode() not in audit
    assert base64.b64encode(canary).decode() not in audit
