"""Per-customer caps on what a customer can add without bound (settings MAX_MANUAL_CONNECTIONS,
MAX_CUSTOM_TOKENS). A create past the cap is 409 `limit_reached` with `resource` and `limit`, and stores
nothing. The count and the insert run in one transaction under a transaction-scoped advisory lock of that
resource (`RESOURCE_LOCK_SQL`, taken by the repositories' `count_locked`), so two concurrent creates can never
both take the last place."""

from __future__ import annotations

from tallyhold.errors import Conflict

# Serialises the creates of one resource within one customer's schema (customers sharing a database never
# wait for each other: the schema is part of the key). Released at commit or rollback.
RESOURCE_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':limit:' || :resource))"


def ensure_room(resource: str, count: int, limit: int) -> None:
    if count >= limit:
        raise Conflict(
            f"This instance holds at most {limit} {resource.replace('_', ' ')}; delete one before adding another.",
            code="limit_reached",
            resource=resource,
            limit=limit,
        )
