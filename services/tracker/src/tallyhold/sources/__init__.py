"""Sources: how the sync engine turns a connection into an egress call, and the balances that come back.

Each connection kind that syncs (`exchange`, `wallet`) has a request builder in its domain; the runtime hands
the sync engine the map from kind to builder (`tallyhold.runtime.request_builders`). The builder runs in the
API process (it may decrypt credentials and read rows); the call itself runs in the egress worker; the reply
is always `SourceBalances`. Failures are `EgressError`s with a stable code and a `transient` flag:

    transient (retry with backoff)      rate_limited (retry_after), banned (retry_after: the venue's breaker
                                        opens for the ban), exchange_unavailable, timeout, malformed_response,
                                        rpc_unavailable, egress_worker_unavailable
    permanent (stop until fixed)        invalid_credentials, key_revoked, permission_denied, chain_mismatch,
                                        write_permissions (the key gained write rights: quarantine it)
"""
