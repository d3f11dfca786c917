"""Public addresses and extended public keys: validated, normalised, and classified, in pure Python.

EVM: `0x` + 40 hex digits. Mixed case must carry a valid EIP-55 checksum (a typo is then caught); all-lowercase
or all-uppercase has no checksum and is accepted. Every address is stored in its EIP-55 form, so the same
address typed two ways is the same wallet.

Bitcoin (mainnet): P2PKH (`1…`), P2SH (`3…`), P2WPKH and P2WSH (`bc1q…`), P2TR (`bc1p…`); bech32 addresses are
stored lowercase. Extended public keys: xpub (P2PKH), ypub (P2SH-P2WPKH), zpub (P2WPKH), checked down to the
public key being a point on secp256k1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tallyhold.encoding import base58check_decode, segwit_decode
from tallyhold.errors import Unprocessable

_HEX = frozenset("0123456789abcdefABCDEF")

BitcoinAddressType = Literal["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"]
XpubKind = Literal["xpub", "ypub", "zpub"]

# Version bytes of extended public keys (SLIP-132).
XPUB_VERSIONS: dict[bytes, XpubKind] = {
    bytes.fromhex("0488b21e"): "xpub",
    bytes.fromhex("049d7cb2"): "ypub",
    bytes.fromhex("04b24746"): "zpub",
}
_UNSUPPORTED_XPUB = {
    bytes.fromhex("0295b43f"): "Ypub (multisig P2SH-P2WSH)",
    bytes.fromhex("02aa7ed3"): "Zpub (multisig P2WSH)",
    bytes.fromhex("043587cf"): "tpub (testnet)",
    bytes.fromhex("044a5262"): "upub (testnet)",
    bytes.fromhex("045f1cf6"): "vpub (testnet)",
}

# secp256k1 field prime: a public key's x must give a square y² = x³ + 7.
_P = 2**256 - 2**32 - 977


class InvalidAddress(Unprocessable):
    default_code = "invalid_address"
    default_message = "This is not a valid public address for the chosen chain."


def keccak256(data: bytes) -> bytes:
    from Crypto.Hash import keccak  # pycryptodome; imported on first use only

    return keccak.new(digest_bits=256, data=data).digest()


def to_checksum_address(hex40: str) -> str:
    """EIP-55: a hex letter is uppercase when the matching nibble of keccak(lowercase hex) is ≥ 8."""
    lower = hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch for i, ch in enumerate(lower))


def normalise_evm_address(text: str) -> str:
    value = text.strip()
    if not (len(value) == 42 and value[:2] in ("0x", "0X") and all(ch in _HEX for ch in value[2:])):
        raise InvalidAddress("An EVM address is 0x followed by 40 hexadecimal digits.")
    digits = value[2:]
    checksummed = to_checksum_address(digits)
    mixed = digits != digits.lower() and digits != digits.upper()
    if mixed and checksummed[2:] != digits:
        raise InvalidAddress(
            "The address's upper/lower-case letters do not match its EIP-55 checksum: it was probably mistyped. "
            "Copy it again, or enter it all in lowercase."
        )
    return checksummed


@dataclass(frozen=True)
class BitcoinAddress:
    value: str
    type: BitcoinAddressType


def normalise_bitcoin_address(text: str) -> BitcoinAddress:
    value = text.strip()
    if value[:3].lower() == "bc1":
        decoded = segwit_decode("bc", value)
        if decoded is None:
            raise InvalidAddress("This bc1 address is not valid (checksum or length): it was probably mistyped.")
        version, program = decoded
        if version == 0:
            return BitcoinAddress(value.lower(), "p2wpkh" if len(program) == 20 else "p2wsh")
        if version == 1 and len(program) == 32:
            return BitcoinAddress(value.lower(), "p2tr")
        raise InvalidAddress("This segwit address uses a witness version no wallet uses yet.")
    if value[:3].lower() in ("tb1", "bcr"):
        raise InvalidAddress("Testnet and regtest addresses are not supported: use a Bitcoin mainnet address.")
    payload = base58check_decode(value)
    if payload is None or len(payload) != 21:
        raise InvalidAddress("This is not a valid Bitcoin address: it was probably mistyped.")
    if payload[0] == 0x00:
        return BitcoinAddress(value, "p2pkh")
    if payload[0] == 0x05:
        return BitcoinAddress(value, "p2sh")
    if payload[0] in (0x6F, 0xC4):
        raise InvalidAddress("Testnet addresses are not supported: use a Bitcoin mainnet address.")
    raise InvalidAddress("This is not a Bitcoin address.")


@dataclass(frozen=True)
class ExtendedPublicKey:
    value: str
    kind: XpubKind
    depth: int


def looks_like_extended_key(text: str) -> bool:
    return text.strip()[1:4] == "pub" and len(text.strip()) > 100


def parse_extended_public_key(text: str) -> ExtendedPublicKey:
    value = text.strip()
    payload = base58check_decode(value)
    if payload is None or len(payload) != 78:
        raise InvalidAddress("This is not a valid extended public key (xpub, ypub or zpub): check it was copied whole.")
    version, depth, key = payload[:4], payload[4], payload[45:]
    kind = XPUB_VERSIONS.get(version)
    if kind is None:
        what = _UNSUPPORTED_XPUB.get(version)
        raise InvalidAddress(
            f"{what} keys are not supported; use an xpub, ypub or zpub." if what else "Unknown extended key type."
        )
    if not _is_compressed_point(key):
        raise InvalidAddress("This extended public key does not hold a valid public key.")
    return ExtendedPublicKey(value, kind, depth)


def _is_compressed_point(key: bytes) -> bool:
    if len(key) != 33 or key[0] not in (2, 3):
        return False
    x = int.from_bytes(key[1:], "big")
    if x >= _P:
        return False
    rhs = (pow(x, 3, _P) + 7) % _P
    y = pow(rhs, (_P + 1) // 4, _P)
    return y * y % _P == rhs
