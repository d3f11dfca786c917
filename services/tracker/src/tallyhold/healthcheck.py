"""`python -m tallyhold.healthcheck`: the container image's HEALTHCHECK.

Asks the instance's own `/healthz` on the loopback address, at the port `tallyhold serve` listens on; exit 0 when
it answers 200, 1 otherwise. Only the standard library is used: this runs every interval in a fresh process, and
must not load the settings (nor need them to be valid) to tell whether the server answers.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def healthy(port: str) -> bool:
    try:
        url = f"http://127.0.0.1:{int(port)}/healthz"
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (OSError, ValueError, urllib.error.URLError):
        return False


def main() -> None:
    sys.exit(0 if healthy(os.environ.get("TALLYHOLD_HTTP_PORT", "8080")) else 1)


if __name__ == "__main__":
    main()
