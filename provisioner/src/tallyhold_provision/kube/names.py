"""Kubernetes names of a customer. Kubernetes names cannot hold `_`, so the namespace is the opaque id with `_`
replaced by `-` (`t_0123456789abcdef` → `t-0123456789abcdef`); the customer's transit key is named like the
namespace, because the one templated tenant policy finds the key from the verified login's service-account
namespace. The Vault Kubernetes-auth role keeps the opaque id itself."""

from __future__ import annotations

from tallyhold_provision.naming import TenantNames

RELEASE = "tallyhold"  # the chart's release name, and so the Deployment's, Service's and ConfigMap's
NAMESPACE_RELEASE = "tallyhold-namespace"
SERVICE_ACCOUNT = "tallyhold"
DATABASE_SECRET = "tallyhold-database"  # noqa: S105 - a Secret's name: the database URL
PROVISIONER_SECRET = "tallyhold-provisioner"  # noqa: S105 - a Secret's name: the provisioner's durable secrets
DATABASE_URL_KEY = "TALLYHOLD_DATABASE_URL"
MIGRATION_JOB = f"{RELEASE}-migrate"


def namespace(names: TenantNames) -> str:
    return names.customer_id.replace("_", "-")


def transit_key(names: TenantNames) -> str:
    return namespace(names)


def vault_role(names: TenantNames) -> str:
    return names.customer_id
