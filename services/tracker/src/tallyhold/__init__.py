"""Tallyhold tracker: one customer's instance (FastAPI service + scheduler)."""

__version__ = "0.1.0"
