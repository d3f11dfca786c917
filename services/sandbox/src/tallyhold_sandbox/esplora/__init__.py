"""A wire-faithful Esplora (Blockstream electrs REST API) for Bitcoin tests and the demo.

Same paths, JSON shapes and error answers as electrs' `rest.rs` for what Tallyhold reads:
    GET /address/:address          {"address", "chain_stats": {...}, "mempool_stats": {...}}
    GET /address/:address/utxo     [{"txid", "vout", "status": {"confirmed", ...}, "value"}]
    GET /blocks/tip/height         text/plain
    GET /blocks/tip/hash           text/plain
An address that does not parse answers 400 `Invalid Bitcoin address`, one of another network 400 `Address on
invalid network` (text/plain, like electrs); an unknown route 404. Stats hold satoshi integers.

Sandbox-only control routes under `/_sandbox/` (fund, spend, faults, request log) let the demo and the tests
shape the chain. `state.py` holds the outputs; `app.py` serves them; `server.py` runs it in a thread or a process.
"""
