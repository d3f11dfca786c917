"""What keeps secrets out and exchange keys locked down.

guard.py       the secret-paste guard: private keys, WIF, xprv and BIP-39 phrases are refused (422
               `secret_material`) in any wallet, token or label request before it is validated or logged
endpoints.py   the instance's egress IPs, for the exchange's IP allowlist
"""
