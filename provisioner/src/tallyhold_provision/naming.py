"""Every per-customer name in Postgres and Vault derives from the opaque id, never from the slug or e-mail:
catalogs (`pg_namespace`, `pg_roles`) and Vault paths are visible across tenants."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
CUSTOMER_ID = re.compile(r"^t_[0-9a-f]{16}$")


def new_customer_id() -> str:
    return "t_" + secrets.token_hex(8)


@dataclass(frozen=True)
class TenantNames:
    customer_id: str

    def __post_init__(self) -> None:
        if not CUSTOMER_ID.fullmatch(self.customer_id):
            raise ValueError("not an opaque customer id")

    @property
    def schema(self) -> str:
        return self.customer_id

    @property
    def owner_role(self) -> str:
        return f"{self.customer_id}_owner"

    @property
    def app_role(self) -> str:
        return f"{self.customer_id}_app"

    @property
    def transit_key(self) -> str:
        return self.customer_id

    @property
    def vault_role(self) -> str:
        return self.customer_id

    @property
    def namespace(self) -> str:
        """Kubernetes names cannot hold `_`: the customer's namespace (and its transit key there) is its id with
        `-` for `_`."""
        return self.customer_id.replace("_", "-")


def validate_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        from tallyhold_provision.errors import ProvisionError

        raise ProvisionError(f"{slug!r} is not a valid slug (lowercase letters, digits and '-', 3 to 32 characters)")
    return slug
