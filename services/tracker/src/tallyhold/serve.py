"""`python -m tallyhold.serve`: `tallyhold serve` without the command line's own library.

The instance is a long-lived process on a host of many customers; importing typer (and with it shellingham and
the rest of the command line) only to dispatch to `serve` costs each instance about 1 MiB. The local launcher,
the podman backend and the chart start this module; `tallyhold serve` (the image's default command) runs the same
`serve` below.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from tallyhold.api.lean_fastapi import import_fastapi_with_deferred_models
from tallyhold.lean_imports import postgres_dialect_without_other_drivers
from tallyhold.logging import configure_logging
from tallyhold.settings import Settings, load_settings

# Before anything imports FastAPI: its OpenAPI models are built when `/openapi.json` is first asked for, not at
# start-up (api/lean_fastapi.py). Before the models import SQLAlchemy's Postgres dialect: the dialects of the
# drivers the instance does not use run only if read (lean_imports.py).
import_fastapi_with_deferred_models()
postgres_dialect_without_other_drivers()

# Exit codes: 2 for settings that cannot be used, 3 when the server did not start (port taken, lifespan failed).
BAD_SETTINGS, NOT_STARTED = 2, 3


def settings_or_errors() -> Settings | list[str]:
    """The settings with logging configured, or one line per field that cannot be used: field names and reasons
    only (hide_input_in_errors), never the values, which include passwords."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        return [
            f"error: TALLYHOLD_{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        ]
    configure_logging(settings.log_level)
    return settings


def serve() -> int:
    """Run the API and the scheduler until interrupted; the exit code. Refuses plain HTTP off loopback unless
    TALLYHOLD_TLS_UPSTREAM=true (see README, "HTTP, TLS and slow clients")."""
    settings = settings_or_errors()
    if isinstance(settings, list):
        sys.stderr.write("".join(line + "\n" for line in settings))
        return BAD_SETTINGS
    from tallyhold.api.server import Server, plaintext_refusal, tls_problem, uvicorn_config
    from tallyhold.app import create_app
    from tallyhold.metrics import start_metrics_server

    refusal = plaintext_refusal(settings) or tls_problem(settings)
    if refusal is not None:
        sys.stderr.write(f"error: {refusal}\n")
        return BAD_SETTINGS
    start_metrics_server(settings.http.metrics_host, settings.http.metrics_port)
    server = Server(uvicorn_config(create_app(settings), settings))
    server.run()
    return 0 if server.started else NOT_STARTED  # as uvicorn.run: the port was taken, the lifespan failed, ...


if __name__ == "__main__":
    sys.exit(serve())
