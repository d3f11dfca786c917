"""The embedded platform for one machine: Postgres, OpenBao, supervisord, sandbox venues and a local chain,
each started from packages installed inside the checkout (PyPI, npm)."""
