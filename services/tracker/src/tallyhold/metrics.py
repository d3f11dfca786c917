"""Prometheus metrics, all prefixed `tallyhold_`. Labels are low-cardinality codes (route templates, source
kinds, outcomes, connection ids); never an amount, an address, a key hint, a customer name or a secret."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

HTTP_REQUEST_DURATION = Histogram(
    "tallyhold_http_request_duration_seconds",
    "Time to answer an API request, by route template.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BAD_REQUESTS = Counter(
    "tallyhold_api_errors_total",
    "API answers with an error body, by stable error code.",
    ["code"],
)
CREDENTIALS_REJECTED = Counter(
    "tallyhold_credentials_rejected_total",
    "Exchange keys refused before storage, by error code (write_permissions, invalid_credentials, ...).",
    ["reason"],
)
INSTANCE_INFO = Gauge("tallyhold_instance_info", "Always 1; carries the instance version.", ["version"])


def start_metrics_server(host: str, port: int) -> None:
    """Serve `/metrics` on its own port, so scraping never competes with (or is exposed as) the API."""
    if port:
        start_http_server(port, addr=host)
