"""The alert rules in deploy/prometheus are valid, unit-tested with promtool, and read real metric names."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from prometheus_client import REGISTRY, generate_latest

import tallyhold.metrics  # noqa: F401 - registers every metric of the instance (the provisioner exports none)

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def exported_names() -> set[str]:
    """Every series name the instance can export, including those of label sets not observed yet."""
    names = set()
    for family in REGISTRY.collect():
        names |= {sample.name for sample in family.samples} | {family.name}
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool comes from the Debian package prometheus: `make debian`"
    return subprocess.run([exe, *args], input=stdin.decode() if stdin else None, capture_output=True, text=True)


def test_rules_are_valid() -> None:
    assert RULES
    result = promtool("check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_labelled() -> None:
    rules = "\n".join(path.read_text() for path in RULES)
    tests = "\n".join(path.read_text() for path in RULE_TESTS)
    alerts = set(re.findall(r"^\s*- alert: (\w+)", rules, re.M))
    assert {
        "TallyholdSyncsFailing",
        "TallyholdSourceStale",
        "TallyholdKeyQuarantined",
        "TallyholdDecryptFailures",
        "TallyholdVaultUnreachable",
        "TallyholdInstanceDown",
    } <= alerts
    assert alerts <= set(re.findall(r"alertname: (\w+)", tests)), "an alert without a promtool test"
    blocks = re.split(r"^\s*- alert: ", rules, flags=re.M)[1:]
    for block in blocks:
        assert re.search(r"severity: (warning|critical)", block), block.splitlines()[0]
        assert "summary:" in block, block.splitlines()[0]
        assert "description:" in block, block.splitlines()[0]


def unexported_metrics(rules: str) -> set[str]:
    """The metric names in `rules` that the code registers nowhere (a metric renamed in the code, not in the rules)."""
    return set(re.findall(r"\btallyhold_[a-z_]+\b", rules)) - exported_names()


def test_rules_only_use_metrics_the_instance_exports() -> None:
    missing = unexported_metrics("\n".join(p.read_text() for p in RULES))
    assert not missing, f"rules use metrics nobody exports: {sorted(missing)}"


def test_a_metric_renamed_in_the_code_fails_the_rules() -> None:
    rule = "expr: tallyhold_vault_up == 0 or rate(tallyhold_vault_decrypt_failures_total[5m]) > 0"
    assert unexported_metrics(rule) == set()
    renamed = rule.replace("tallyhold_vault_up", "tallyhold_vault_available")
    assert unexported_metrics(renamed) == {"tallyhold_vault_available"}


def test_exported_metrics_follow_prometheus_conventions() -> None:
    result = promtool("check", "metrics", stdin=generate_latest(REGISTRY))
    assert result.returncode == 0, result.stdout + result.stderr
