"""Structured logging: one JSON object per line on stderr, with a redaction filter on every handler.

The primary control is that code never hands a secret to a logger. Redaction is the backstop: every secret
that passes through the process (credentials on their way into or out of the cipher, access tokens as they are
issued, secret material pasted into wallet fields) is registered with `secrets`, and the filter masks each
registered value in all the encodings it could be logged in (raw, base64, URL-encoded, hex, JSON-escaped),
plus header-shaped patterns that carry keys.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import urllib.parse
from collections import Counter, OrderedDict
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6

# Header and field shapes that carry credentials, whatever their value.
_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic)\s+)[^\s'\",}]+"),
    re.compile(
        r"(?i)((?:x-mbx-apikey|ok-access-(?:key|sign|passphrase)|api-key|apikey|api_secret|passphrase|"
        r"x-vault-token|x-bapi-api-key|kc-api-(?:key|passphrase|sign)|api-sign)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"
    ),
    re.compile(r"\bth_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}"),  # Tallyhold access tokens
    re.compile(r"\b(?:hvs|hvb|s)\.[A-Za-z0-9]{20,}"),  # Vault/OpenBao tokens
]


def encodings(secret: str) -> set[str]:
    """Every form in which `secret` could end up in a log line or a response."""
    raw = secret.encode("utf-8")
    forms = {
        secret,
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
        base64.b64encode(raw).decode("ascii").rstrip("="),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        raw.hex(),
        raw.hex().upper(),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class SecretRegistry:
    """Process-local record of values that must never be written anywhere, with every encoding of each.

    Matching does not grow with the number of secrets: forms are indexed by their first `MIN_SECRET_LENGTH`
    characters and a line is scanned once, one dictionary lookup per position (a regex alternation of thousands
    of literals would cost milliseconds per log line, and its compilation seconds).

    Bounded, most recently registered kept: secrets in use are registered again at each use (decrypted keys,
    the current Vault token) and stay; long-expired ones (old Vault tokens) age out. Values a client controls
    (text refused by the secret-paste guard) live in a separate, smaller pool, so a flood of them can never
    push out an instance secret.
    """

    def __init__(self, capacity: int = 4096, untrusted_capacity: int = 256) -> None:
        self._lock = threading.Lock()
        self._pools: dict[bool, OrderedDict[str, frozenset[str]]] = {True: OrderedDict(), False: OrderedDict()}
        self._capacity = {True: capacity, False: untrusted_capacity}
        self._form_counts: Counter[str] = Counter()
        # Buckets are tuples replaced whole, so a scan on another thread never sees one half-updated.
        self._index: dict[str, tuple[str, ...]] = {}

    def add(self, secret: str) -> None:
        """Register an instance secret (credential, token)."""
        self._add(secret, trusted=True)

    def add_untrusted(self, secret: str) -> None:
        """Register client-controlled text that must not be logged (it cannot evict instance secrets)."""
        self._add(secret, trusted=False)

    def _add(self, secret: str, *, trusted: bool) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            # Too short to mask without mangling ordinary text; such values are refused as secrets upstream.
            return
        with self._lock:
            pool = self._pools[trusted]
            if secret in pool:
                pool.move_to_end(secret)
                return
            forms = frozenset(encodings(secret))
            pool[secret] = forms
            for form in forms:
                self._form_counts[form] += 1
                if self._form_counts[form] == 1:
                    key = form[:MIN_SECRET_LENGTH]
                    # Longest first, so the whole of an encoding is masked, not just a prefix of it.
                    self._index[key] = tuple(sorted((*self._index.get(key, ()), form), key=len, reverse=True))
            while len(pool) > self._capacity[trusted]:
                _, old_forms = pool.popitem(last=False)
                for form in old_forms:
                    self._form_counts[form] -= 1
                    if self._form_counts[form] == 0:
                        del self._form_counts[form]
                        key = form[:MIN_SECRET_LENGTH]
                        remaining = tuple(f for f in self._index[key] if f != form)
                        if remaining:
                            self._index[key] = remaining
                        else:
                            del self._index[key]

    def __len__(self) -> int:
        return sum(len(pool) for pool in self._pools.values())

    def scrub(self, text: str) -> str:
        text = self._mask_registered(text)
        for shape in _PATTERNS:
            text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text

    def _mask_registered(self, text: str) -> str:
        index = self._index
        if not index or len(text) < MIN_SECRET_LENGTH:
            return text
        parts: list[str] = []
        position = last = 0
        end = len(text) - MIN_SECRET_LENGTH
        while position <= end:
            bucket = index.get(text[position : position + MIN_SECRET_LENGTH])
            match = next((form for form in bucket if text.startswith(form, position)), None) if bucket else None
            if match is None:
                position += 1
                continue
            parts += [text[last:position], REDACTED]
            position += len(match)
            last = position
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)


secrets = SecretRegistry()


class RedactionFilter(logging.Filter):
    """Masks registered secrets and credential-shaped text in the message, its arguments and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = secrets.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = secrets.scrub(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, secrets.scrub(value))
        return True


_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "event", ...extra}`: the fields a log pipeline can index."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        return secrets.scrub(json.dumps(entry, default=str, ensure_ascii=False))


# Third-party loggers that would print request headers or payloads at DEBUG (ccxt logs headers with the API
# key; hvac and urllib3 log request details). They stay at WARNING whatever the root level is.
PINNED_LOGGERS = (
    "ccxt",
    "ccxt.base.exchange",
    "urllib3",
    "hvac",
    "web3",
    "aiohttp",
    "httpx",
    "httpcore",
    "psycopg.pool",  # three INFO lines per token check (connection asked for, given, returned)
    "asyncio",
    "uvicorn.access",
)


class JsonStderrHandler(logging.StreamHandler[TextIO]):
    """The instance's own handler; a distinct class so that reconfiguring replaces it instead of adding another."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.addFilter(RedactionFilter())
        self.setFormatter(JsonFormatter())


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, JsonStderrHandler):
            root.removeHandler(existing)
    root.addHandler(JsonStderrHandler())
    root.setLevel(level)
    pin_third_party_loggers()


def pin_third_party_loggers() -> None:
    for name in PINNED_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
    # uvicorn's access log would print query strings; the instance writes its own access log instead.
    logging.getLogger("uvicorn.access").disabled = True
