"""Detectors for the credentials Tallyhold itself hands out, which detect-secrets cannot know: loaded by
tools/secretscan/scan.py as a detect-secrets plugin file. Patterns match the real formats exactly, so an
ordinary identifier never looks like one."""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector


class TallyholdAccessTokenDetector(RegexBasedDetector):
    """An instance access token, `th_<12 hex id>_<43 url-safe characters>` (tallyhold.auth.service)."""

    secret_type = "Tallyhold access token"  # noqa: S105 - the name of a kind of secret
    denylist = (re.compile(r"\bth_[0-9a-f]{12}_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),)


class VaultTokenDetector(RegexBasedDetector):
    """A Vault or OpenBao token: service (`hvs.`) and batch (`hvb.`) tokens, and the legacy `s.` + 24
    characters that OpenBao still issues."""

    secret_type = "Vault token"  # noqa: S105 - the name of a kind of secret
    denylist = (
        re.compile(r"\bhv[sb]\.[A-Za-z0-9_-]{24,}"),
        re.compile(r"(?<![A-Za-z0-9_.])s\.[A-Za-z0-9]{24}(?![A-Za-z0-9])"),
    )
