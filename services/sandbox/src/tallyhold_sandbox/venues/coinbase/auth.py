"""Coinbase CDP API keys: every private request carries `Authorization: Bearer <JWT>` signed with the key's
private key (docs.cdp.coinbase.com "API Key Authentication").

- ECDSA keys (secret = a PEM "EC PRIVATE KEY" block): ES256, header `kid` = key name and a `nonce`,
  claims `sub` = key name, `iss` "cdp" or "coinbase-cloud", `aud` ["retail_rest_api_proxy"], `nbf`, `exp`
  (at most 120 s after `nbf`) and `uri` = "<METHOD> <host><path>".
- Ed25519 keys (secret = base64 of 64 bytes, seed then public key): EdDSA, `aud` ["cdp_service"] and `uris`.

The venue holds the key's public half only in spirit: it derives it from the secret it was given. The `uri`
claim is compared with the request's method, Host and path. ccxt strips only "https://" from the URL it
signs, so against an http sandbox the claim reads "GET http://127.0.0.1:PORT/..."; that form is accepted too."""

from __future__ import annotations

import base64
import binascii
import json
from functools import lru_cache
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tallyhold_sandbox.state import ApiKey
from tallyhold_sandbox.venues.base import Reject, Venue, now

MAX_LIFETIME = 120
CLOCK_SKEW = 30


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unverified_claims(request: web.Request) -> tuple[dict[str, Any], dict[str, Any], str, bytes] | None:
    """(header, claims, signed part, signature) of the bearer JWT, not yet verified; None if there is none."""
    authorization = request.headers.get("Authorization", "")
    if not authorization.startswith("Bearer "):
        return None
    parts = authorization[len("Bearer ") :].split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, f"{parts[0]}.{parts[1]}", signature


def claimed_key(request: web.Request) -> str | None:
    token = unverified_claims(request)
    if token is None:
        return None
    subject = token[1].get("sub")
    return subject if isinstance(subject, str) else None


@lru_cache(maxsize=256)
def _public_key(secret: str) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | None:
    try:
        if "PRIVATE KEY" in secret:
            private = serialization.load_pem_private_key(secret.encode(), password=None)
            if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
                return private.public_key()
            return None
        raw = base64.b64decode(secret, validate=True)
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32]).public_key() if len(raw) == 64 else None
    except (ValueError, TypeError, binascii.Error):
        return None


def _signature_valid(key: ApiKey, header: dict[str, Any], signed: str, signature: bytes) -> bool:
    public = _public_key(key.secret)
    try:
        if isinstance(public, ec.EllipticCurvePublicKey) and header.get("alg") == "ES256" and len(signature) == 64:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
            return True
        if isinstance(public, ed25519.Ed25519PublicKey) and header.get("alg") == "EdDSA":
            public.verify(signature, signed.encode())
            return True
    except InvalidSignature:
        return False
    return False


def _uri_matches(claims: dict[str, Any], request: web.Request) -> bool:
    wanted = {f"{request.method} {request.host}{request.path}", f"{request.method} http://{request.host}{request.path}"}
    uris = claims.get("uris") if "uris" in claims else [claims.get("uri")]
    return isinstance(uris, list) and any(u in wanted for u in uris)


def authenticate(venue: Venue, request: web.Request, *, need: str | None = "read") -> ApiKey:
    token = unverified_claims(request)
    if token is None:
        raise Reject(venue.auth_error("missing_key"))
    header, claims, signed, signature = token
    key = venue.state.find_key(claims.get("sub") if isinstance(claims.get("sub"), str) else None)
    if key is None or header.get("kid") != key.api_key or not header.get("nonce"):
        raise Reject(venue.auth_error("unknown_key"))
    if not _signature_valid(key, header, signed, signature):
        raise Reject(venue.auth_error("bad_signature"))
    moment = now().timestamp()
    nbf, exp = claims.get("nbf"), claims.get("exp")
    audience = claims.get("aud")
    if (
        not isinstance(nbf, int | float)
        or not isinstance(exp, int | float)
        or not nbf - CLOCK_SKEW <= moment < exp
        or exp - nbf > MAX_LIFETIME
        or claims.get("iss") not in {"cdp", "coinbase-cloud"}
        or not isinstance(audience, list)
        or not {"retail_rest_api_proxy", "cdp_service"} & set(audience)
        or not _uri_matches(claims, request)
    ):
        raise Reject(venue.auth_error("bad_timestamp"))
    return venue.admit(key, request, need=need)
