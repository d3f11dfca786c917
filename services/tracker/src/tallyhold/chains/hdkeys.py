"""Addresses of an extended public key (egress worker only: imports bip-utils).

xpub → P2PKH (BIP-44), ypub → P2SH-P2WPKH (BIP-49), zpub → P2WPKH (BIP-84). Derivation is non-hardened and
relative to the key given: `<key>/0/i` is the receive chain, `<key>/1/i` the change chain. Wallets export the
account-level key (depth 3), which is what this expects; any depth derives the same way.
"""

from __future__ import annotations

from functools import lru_cache

from bip_utils import (
    Bip32KeyNetVersions,
    Bip32Slip10Secp256k1,
    P2PKHAddrEncoder,
    P2SHAddrEncoder,
    P2WPKHAddrEncoder,
)

from tallyhold.chains.addresses import XpubKind, parse_extended_public_key

RECEIVE, CHANGE = 0, 1
_NET_VERSIONS: dict[XpubKind, Bip32KeyNetVersions] = {
    "xpub": Bip32KeyNetVersions(bytes.fromhex("0488b21e"), bytes.fromhex("0488ade4")),
    "ypub": Bip32KeyNetVersions(bytes.fromhex("049d7cb2"), bytes.fromhex("049d7878")),
    "zpub": Bip32KeyNetVersions(bytes.fromhex("04b24746"), bytes.fromhex("04b2430c")),
}
SCRIPT_OF: dict[XpubKind, str] = {"xpub": "p2pkh", "ypub": "p2sh-p2wpkh", "zpub": "p2wpkh"}


class XpubDeriver:
    def __init__(self, xpub: str) -> None:
        parsed = parse_extended_public_key(xpub)
        self.kind: XpubKind = parsed.kind
        root = Bip32Slip10Secp256k1.FromExtendedKey(parsed.value, _NET_VERSIONS[parsed.kind])
        self._chains = {RECEIVE: root.ChildKey(RECEIVE), CHANGE: root.ChildKey(CHANGE)}

    @property
    def script(self) -> str:
        return SCRIPT_OF[self.kind]

    @lru_cache(maxsize=4096)  # noqa: B019 - one deriver per scan; the cache dies with it
    def address(self, chain: int, index: int) -> str:
        key = self._chains[chain].ChildKey(index).PublicKey().KeyObject()
        if self.kind == "xpub":
            return str(P2PKHAddrEncoder.EncodeKey(key, net_ver=b"\x00"))
        if self.kind == "ypub":
            return str(P2SHAddrEncoder.EncodeKey(key, net_ver=b"\x05"))
        return str(P2WPKHAddrEncoder.EncodeKey(key, hrp="bc", wit_ver=0))
