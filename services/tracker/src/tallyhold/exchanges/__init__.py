"""Exchange connectors: read-only keys proven by the exchange itself, complete balances, safe failure.

Both processes: key.py (ExchangeKey, the one key model; its JSON under WIRE_CONTEXT is the wire format)
API process (never imports ccxt):
    verification.py  the CredentialVerifier contract, Permissions, KeyVerification, RefuseAllVerifier
    keyformat.py  characters no exchange accepts in a key, refused before any outbound call
    verifier.py   the CredentialVerifier the connection routes call before any cipher call or row write
    sync.py       the sync request builder (ExchangeRequests; the runtime gives it the key source)
    registry.py   supported venues → adapters (venues/<id>.py), model.py (what they describe and report)
Egress worker (ccxt, imported lazily):
    handlers.py   the operations `exchange.verify` and `exchange.balances`
    session.py    one ccxt object per request: URL overrides, transport guard, retries, strict JSON
    guard.py, denylist.py   what no adapter can ever reach (key-changing methods, cancel-all)
    errors.py     ccxt exception classes → our codes (transient or permanent)
Shared by both: wire.py (requests and replies of those operations; the key travels in `WireKey`), parse.py
    (strict readers of exchange answers), assets.py (canonical asset codes; each venue's own asset ids are read
    by its adapter's `asset_code`), venues/base.py (the adapter protocol, the shared trade-permission probe of
    the unverifiable venues).
"""
