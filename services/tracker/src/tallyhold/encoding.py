"""Base58Check and Bech32/Bech32m in pure Python (BIP-173, BIP-350), for validation in the API process.

bip-utils implements the same and more, but importing it loads every coin it knows (~0.5 s, ~25 MiB); the API
process only needs to check an address or a key's shape, so it uses these few functions. The tests check them
against bip-utils on derived addresses.
"""

from __future__ import annotations

import hashlib

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {ch: i for i, ch in enumerate(BASE58_ALPHABET)}


def double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def base58_decode(text: str) -> bytes | None:
    """Raw Base58 decoding; None when a character is outside the alphabet."""
    number = 0
    for ch in text:
        digit = _BASE58_INDEX.get(ch)
        if digit is None:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading_zeros + body


def base58check_decode(text: str) -> bytes | None:
    """The payload of a Base58Check string, or None when it is not one (bad character or checksum)."""
    raw = base58_decode(text)
    if raw is None or len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    return payload if double_sha256(payload)[:4] == checksum else None


def base58check_encode(payload: bytes) -> str:
    data = payload + double_sha256(payload)[:4]
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = BASE58_ALPHABET[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(ch) >> 5 for ch in hrp] + [0] + [ord(ch) & 31 for ch in hrp]


def _convert_bits(data: list[int], from_bits: int, to_bits: int) -> bytes | None:
    """Regroups 5-bit words into bytes; None when the padding is not canonical (BIP-173)."""
    accumulator = 0
    bits = 0
    out = bytearray()
    max_value = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & max_value)
    if bits >= from_bits or ((accumulator << (to_bits - bits)) & max_value):
        return None
    return bytes(out)


def segwit_decode(hrp: str, address: str) -> tuple[int, bytes] | None:
    """(witness version, witness program) of a segwit address for `hrp`, or None when it is not a valid one.
    Checks the Bech32 (v0) or Bech32m (v1+) checksum, case rules and program lengths of BIP-173/BIP-350."""
    if address.lower() != address and address.upper() != address:
        return None  # mixed case is invalid by definition
    address = address.lower()
    if len(address) > 90 or any(ord(ch) < 33 or ord(ch) > 126 for ch in address):
        return None
    separator = address.rfind("1")
    if separator < 1 or separator + 7 > len(address) or address[:separator] != hrp:
        return None
    try:
        data = [BECH32_CHARSET.index(ch) for ch in address[separator + 1 :]]
    except ValueError:
        return None
    constant = _polymod(_hrp_expand(hrp) + data)
    if constant not in (_BECH32_CONST, _BECH32M_CONST) or not data:
        return None
    version = data[0]
    program = _convert_bits(data[1:-6], 5, 8)
    if program is None or version > 16 or not 2 <= len(program) <= 40:
        return None
    if (version == 0) != (constant == _BECH32_CONST):
        return None  # v0 must use Bech32, v1+ must use Bech32m
    if version == 0 and len(program) not in (20, 32):
        return None
    return version, program
