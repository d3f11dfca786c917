"""Failed sign-ins are throttled like the API's failed bearer tokens, in the same per-address table."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tallyhold.logging import secrets as log_secrets
from tests.tracker.web.conftest import Served

SIGN_IN_COOKIE = "__Host-tallyhold_sign_in"


@pytest.fixture(scope="module")
def served_overrides() -> dict[str, Any]:
    return {"AUTH_THROTTLE_FAILURES": 3, "AUTH_THROTTLE_WINDOW_SECONDS": 3600}


def _sign_in(served: Served, token: str) -> httpx.Response:
    """One sign-in as the browser makes it: the form's page first (its CSRF token and cookie), then the post."""
    page = httpx.get(served.url + "/sign-in")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    cookie = {"Cookie": f"{SIGN_IN_COOKIE}={page.cookies[SIGN_IN_COOKIE]}"}
    return httpx.post(served.url + "/sign-in", data={"csrf_token": csrf, "token": token}, headers=cookie)


def _wrong() -> str:
    return f"th_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def test_failed_sign_ins_are_throttled_with_the_apis_failures(served: Served, clean: None) -> None:
    valid = served.token()
    assert httpx.get(served.url + "/v1/networth", headers={"Authorization": f"Bearer {_wrong()}"}).status_code == 401
    assert _sign_in(served, _wrong()).status_code == 401
    assert _sign_in(served, _wrong()).status_code == 401
    refused = _sign_in(served, _wrong())
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in refused.text
    # A valid token is never throttled, and does not reset the count.
    signed_in = _sign_in(served, valid)
    assert signed_in.status_code == 303
    assert _sign_in(served, _wrong()).status_code == 429


def test_refused_sign_ins_register_nothing_for_the_log_redaction(served: Served, clean: None) -> None:
    """What a client posts as a token is its own text until it proves to be a live token: registering it would let
    anyone fill the registry (memory; every log line's scan) and mask chosen words in the instance's log."""
    before = len(log_secrets)
    chosen = ["vault_wrapping_token_unusable-" + secrets.token_hex(8), "Traceback " + secrets.token_hex(16), _wrong()]
    for text in chosen:
        assert _sign_in(served, text).status_code in {401, 429}
    assert len(log_secrets) == before
    assert log_secrets.scrub(chosen[0]) == chosen[0]
    assert _sign_in(served, valid := served.token()).status_code == 303
    assert log_secrets.scrub(valid) != valid  # a live token is masked once it signed in
