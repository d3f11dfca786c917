"""The secret-paste guard (chains are tracked by public address only): refuse anything that looks like secret
material, anywhere in a wallet request, before it is validated, stored or logged.

Detected, inside any string of the request (keys included), alone or surrounded by other text:
    private_key     64 hex digits (with or without 0x), 128 hex digits (a BIP-39 seed), a Casascius mini key
    wif             Wallet Import Format keys (5…/K…/L… mainnet, 9…/c… testnet), by checksum or by shape
    xprv            extended private keys: xprv/yprv/zprv/tprv/uprv/vprv/Yprv/Zprv…, or any Base58Check string
                    of 78 bytes whose key data is a private key
    mnemonic        12–24 words forming a valid BIP-39 phrase in any of the nine languages bip-utils ships
                    (case, accents, extra spaces, numbering and punctuation ignored); and, failing closed, a
                    field of at least 11 words of which 80 % come from one wordlist (a mistyped or incomplete
                    phrase is as good as the phrase: the missing words can be brute-forced)

Every value found is registered with the log redaction filter first (`tallyhold.logging.secrets`), then the
request is refused with 422 `secret_material` and a sentence telling the customer what to do. The kind is
counted in `tallyhold_secret_material_refused_total`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Request

from tallyhold.auth.dependencies import CurrentToken
from tallyhold.encoding import BASE58_ALPHABET, base58_decode, base58check_decode
from tallyhold.errors import Unprocessable
from tallyhold.logging import secrets
from tallyhold.metrics import SECRET_MATERIAL_REFUSED

SecretKind = Literal["private_key", "wif", "xprv", "mnemonic"]
MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)
MAX_REGISTERED_FIELD = 512
MAX_REGISTERED_FINDINGS = 8
WORDLIST_LANGUAGES = (
    "english",
    "spanish",
    "french",
    "italian",
    "portuguese",
    "czech",
    "korean",
    "chinese_simplified",
    "chinese_traditional",
)

_B58 = f"[{BASE58_ALPHABET}]"
_HEX_KEY = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{64})(?![0-9A-Za-z])")
_XPRV_PREFIX = re.compile(rf"(?<![0-9A-Za-z])(?:[xyztuvYZUV]prv){_B58}{{100,112}}(?![0-9A-Za-z])")
_BASE58_RUN = re.compile(rf"(?<![0-9A-Za-z]){_B58}{{22,120}}(?![0-9A-Za-z])")
# WIF by shape (checksum or not): uncompressed 51 chars from 5 (mainnet) or 9 (testnet), compressed 52 chars
# from K/L (mainnet) or c (testnet). No address of a supported chain has these lengths.
_WIF_SHAPE = re.compile(rf"^(?:[59]{_B58}{{50}}|[KLc]{_B58}{{51}})$")
_PRIVATE_WIF_VERSIONS = (0x80, 0xEF)
_CJK = re.compile(r"^[\u3400-\u9fff]+$")
_WORD = re.compile(r"[^\W\d_]+")

# (what it looks like, what to treat as compromised)
MESSAGES: dict[SecretKind, tuple[str, str]] = {
    "private_key": ("a private key", "this key"),
    "wif": ("a private key in Wallet Import Format (WIF)", "this key"),
    "xprv": ("an extended private key (xprv)", "this key and every address derived from it"),
    "mnemonic": ("a recovery phrase (seed words)", "this phrase and every address of its wallet"),
}


@dataclass(frozen=True)
class Finding:
    kind: SecretKind
    secret: str  # the matched text, to be registered with the redaction filter


class SecretMaterial(Unprocessable):
    default_code = "secret_material"

    def __init__(self, kind: SecretKind) -> None:
        looks_like, compromised = MESSAGES[kind]
        super().__init__(
            f"This looks like {looks_like}, which gives control of your funds. Never share it with anyone and "
            "never paste it into any app or website: Tallyhold only needs a public address or an extended public "
            f"key (xpub, ypub, zpub). Treat {compromised} as compromised and move the funds to a new wallet whose "
            "secret has never been typed or pasted anywhere. Nothing was stored.",
            kind=kind,
        )


async def guard_body(request: Request, token: CurrentToken) -> None:
    """Route dependency: 422 `secret_material` when any string of the JSON body (keys included) looks like
    secret material. FastAPI resolves dependencies before the body model, so this runs before validation; it
    depends on the bearer token, so an unauthenticated request gets its 401 and never reaches the scan."""
    payload: Any = await request.json() if await request.body() else None
    refuse_secret_material(payload)


# First in the signature of every route that takes a wallet's (or a connection's) fields.
GuardedBody = Annotated[None, Depends(guard_body)]


def refuse_secret_material(payload: Any) -> None:
    """Scan every string in `payload` (a parsed JSON body); register and refuse the first secret found."""
    findings = [(text, finding) for text in _strings(payload) for finding in scan(text)]
    if not findings:
        return
    # Register before anything else can happen with the request (logging included). Bounded per request: the
    # request is refused anyway and never logged, so registration is a backstop, not a store of everything.
    for text, finding in findings[:MAX_REGISTERED_FINDINGS]:
        register(text, finding)
    kind = findings[0][1].kind
    SECRET_MATERIAL_REFUSED.labels(kind).inc()
    raise SecretMaterial(kind)


def register(field_value: str, finding: Finding) -> None:
    # Bounded: every registered value joins the redaction pattern applied to each log line for the life of the
    # process, so a client must not be able to grow it by kilobytes per request. Findings are short by
    # construction (a key, or at most 24 words); the whole field only when it is field-sized.
    if len(field_value) <= MAX_REGISTERED_FIELD:
        secrets.add_untrusted(field_value)
        secrets.add_untrusted(field_value.strip())
    secrets.add_untrusted(finding.secret)
    if finding.kind == "private_key":
        bare = finding.secret.removeprefix("0x").removeprefix("0X")
        for form in (bare, bare.lower(), bare.upper(), "0x" + bare.lower()):
            secrets.add_untrusted(form)
    if finding.kind == "mnemonic":
        words = finding.secret.split(" ")
        for form in (" ".join(words), ",".join(words), "\n".join(words), " ".join(words).upper()):
            secrets.add_untrusted(form)


def scan(text: str) -> Iterator[Finding]:
    """Every secret-looking part of `text`."""
    if not isinstance(text, str) or len(text) < 22:
        return
    for match in _HEX_KEY.finditer(text):
        yield Finding("private_key", match.group(0))
    for match in _XPRV_PREFIX.finditer(text):
        yield Finding("xprv", match.group(0))
    for match in _BASE58_RUN.finditer(text):
        kind = _base58_secret(match.group(0))
        if kind is not None:
            yield Finding(kind, match.group(0))
    phrase = _mnemonic(text)
    if phrase is not None:
        yield Finding("mnemonic", phrase)


def _base58_secret(token: str) -> SecretKind | None:
    if _WIF_SHAPE.match(token):
        return "wif"
    payload = base58check_decode(token)
    if payload is not None:
        if payload[0] in _PRIVATE_WIF_VERSIONS and (len(payload) == 33 or (len(payload) == 34 and payload[33] == 0x01)):
            return "wif"
        if len(payload) == 78 and payload[45] == 0x00:
            return "xprv"  # key data 0x00 || 32-byte private key, whatever the version bytes claim
    if token[0] == "S" and len(token) in (22, 26, 30) and hashlib.sha256((token + "?").encode()).digest()[0] == 0:
        return "private_key"  # Casascius mini private key
    if len(token) in (111, 112) and base58_decode(token) is not None and token[1:4] == "prv":
        return "xprv"
    return None


# -- BIP-39 ----------------------------------------------------------------------------------------------------


def _fold(word: str) -> str:
    """Lowercase, NFKD, accents dropped: how a customer might type a Spanish or French word."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _wordlists() -> dict[str, dict[str, int]]:
    # The wordlists shipped inside bip-utils, read as files: importing bip-utils itself would load every coin
    # it supports into the API process.
    spec = importlib.util.find_spec("bip_utils")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("bip-utils is not installed; the BIP-39 wordlists are needed by the guard")
    folder = Path(next(iter(spec.submodule_search_locations))) / "bip" / "bip39" / "wordlist"
    lists: dict[str, dict[str, int]] = {}
    for language in WORDLIST_LANGUAGES:
        words = (folder / f"{language}.txt").read_text(encoding="utf-8").split()
        if len(words) != 2048:
            raise RuntimeError(f"BIP-39 wordlist {language} has {len(words)} words, expected 2048")
        index: dict[str, int] = {}
        for position, word in enumerate(words):
            index.setdefault(_fold(word), position)
        lists[language] = index
    return lists


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    # NFKC first: a phrase copied in decomposed form (e + combining accent) must not split inside a word.
    for word in _WORD.findall(unicodedata.normalize("NFKC", text)):
        # Chinese phrases are often written without spaces: one character is one word.
        tokens.extend(list(word) if _CJK.match(word) else [_fold(word)])
    return tokens


def _checksum_ok(indexes: list[int]) -> bool:
    bits = "".join(f"{i:011b}" for i in indexes)
    checksum_bits = len(bits) // 33
    entropy_bits = bits[: len(bits) - checksum_bits]
    entropy = int(entropy_bits, 2).to_bytes(len(entropy_bits) // 8, "big")
    digest = hashlib.sha256(entropy).digest()
    return f"{int.from_bytes(digest, 'big'):0256b}"[:checksum_bits] == bits[len(entropy_bits) :]


def _mnemonic(text: str) -> str | None:
    tokens = _tokens(text)
    if len(tokens) < 11:
        return None
    for index in _wordlists().values():
        in_list = [token in index for token in tokens]
        seen = [0]  # seen[i] = how many of the first i tokens are in the list
        for hit in in_list:
            seen.append(seen[-1] + hit)
        # Failing closed: a field made mostly of one wordlist's words is a phrase, mistyped or incomplete.
        if seen[-1] >= 11 and seen[-1] >= 0.8 * len(tokens):
            return " ".join([token for token, hit in zip(tokens, in_list, strict=True) if hit][:24])
        # A valid phrase of 12-24 consecutive words, inside other text.
        for length in MNEMONIC_LENGTHS:
            for start in range(len(tokens) - length + 1):
                if seen[start + length] - seen[start] != length:
                    continue
                window = tokens[start : start + length]
                if _checksum_ok([index[word] for word in window]):
                    return " ".join(window)
    return None


def _strings(payload: Any) -> Iterator[str]:
    if isinstance(payload, str):
        yield payload
    elif isinstance(payload, bool) or payload is None:
        return
    elif isinstance(payload, int):
        yield str(payload)  # a hex key made only of digits, sent as a JSON number
    elif isinstance(payload, dict):
        for key, value in payload.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(payload, list | tuple):
        for item in payload:
            yield from _strings(item)
