"""requests (hvac's HTTP client) without a character-set detector: 3 MiB less in every idle instance.

requests imports charset_normalizer at its own import (its frequency tables, its compiled modules and the CJK
codecs they pull in: about 3 MiB of each instance) only for `Response.apparent_encoding`, the guess it makes
when a response declares no charset. Vault answers `application/json`, which requests decodes as UTF-8 without
guessing, and without a detector requests falls back to UTF-8 for the rest (its documented behaviour, with a
warning at import that says so). No other part of an instance uses requests.
"""

from __future__ import annotations

import sys
import warnings

DETECTORS = ("chardet", "charset_normalizer")


def import_requests_without_detector() -> None:
    """Imports hvac, and with it requests, with requests' detectors marked absent; does nothing if requests or a
    detector is already loaded (another user in the process then keeps what it has)."""
    if "requests" in sys.modules or any(name in sys.modules for name in DETECTORS):
        return
    for name in DETECTORS:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules makes `import name` fail
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")
            import hvac  # noqa: F401  # imports requests, here and once, while the detectors are marked absent
    finally:
        for name in DETECTORS:
            del sys.modules[name]
