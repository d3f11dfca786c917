"""Chains: on-chain wallets tracked by public address or extended public key, never by anything secret.

API process (no web3, no bip-utils: both stay in the egress worker)
    addresses.py    EVM (EIP-55) and Bitcoin address / xpub validation and normalisation, in pure Python
                    (Base58Check and Bech32/Bech32m: `tallyhold.encoding`; the secret-paste guard every wallet
                    and token route runs first: `tallyhold.security.guard`)
    catalog.py      the supported chains (chain id, native asset); tokenlist.py: curated tokens (tokens/*.json)
    endpoints.py service.py repository.py schemas.py      wallet and custom-token routes
    sync.py         the sync request builder (the runtime's `request_builders()["wallet"]`)
    wire.py         request/reply models of the egress operations (shared by both sides)
    options.py      tuning carried to the worker in EgressConfig.options["chains"] (from the settings)

Egress worker
    handlers.py     `chain.balances`, `chain.token_info`, `chain.head`
    evm.py          web3: coalesced JSON-RPC batches, the first carrying the chain id check and the head that
                    pins the rest to one block; retries; a token that does not answer balanceOf is an error,
                    never a zero
    bitcoin.py      Esplora HTTP client, xpub scans over receive and change chains up to the gap limit
    hdkeys.py       xpub/ypub/zpub derivation with bip-utils
    retry.py        backoff with jitter, Retry-After
"""
