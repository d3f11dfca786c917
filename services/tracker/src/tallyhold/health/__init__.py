"""Liveness and readiness. Readiness asks each registered dependency (database, Vault, ...)."""
