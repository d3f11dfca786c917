"""Checks of deploy/terraform that need no terraform: checkov, the README tables, typed/described/validated
variables, version pins, validation coverage by `terraform test`, and the Helm values templates."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.terraform import readme
from tests.deploy.terraform.layout import (
    EXAMPLES,
    MODULES,
    README,
    ROOT,
    ROOTS,
    TERRAFORM,
    label,
    literal,
    module_calls,
    outputs,
    parse,
    variables,
)

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
MIRRORED_AWS = (5, 100, 0)  # the hashicorp/aws version of the filesystem mirror the terraform checks use
NOT_VALIDATED = {"tags"}  # free-form tag maps; booleans are not validated either (both values are valid)
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@pytest.fixture(scope="module")
def checkov() -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make checkov` installs it (make test does)"
    result = subprocess.run(
        [CHECKOV, "-d", str(TERRAFORM), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=TERRAFORM,
        # A bare environment: no platform API key from the caller's environment, no cache in the user's home.
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".tools" / "checkov")},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report


def checks_in(report: dict[str, Any], kind: str, root: Path) -> list[dict[str, Any]]:
    prefix = f"/{label(root)}/"
    return [check for check in report["results"][kind] if check["file_path"].startswith(prefix)]


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_checkov_passes(checkov: dict[str, Any], root: Path) -> None:
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in checks_in(checkov, "failed_checks", root)]
    assert not failed, "\n".join(failed)
    scanned = checks_in(checkov, "passed_checks", root) + checks_in(checkov, "skipped_checks", root)
    assert scanned, f"checkov scanned nothing in {label(root)}"


def test_every_checkov_skip_is_justified_next_to_its_resource(checkov: dict[str, Any]) -> None:
    skips = re.findall(
        r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?", "\n".join(p.read_text() for p in TERRAFORM.rglob("*.tf"))
    )
    assert skips, "no skips at all: then drop this test's justification rule, not the check"
    unjustified = [check for check, reason in skips if len((reason or "").strip()) < 40]
    assert not unjustified, f"skips need their reason after the id: {unjustified}"
    skipped = {check["check_id"] for check in checkov["results"]["skipped_checks"]}
    assert skipped == {check for check, _ in skips}, "every inline skip must be one checkov actually applied"


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_readme_tables_match_the_code(root: Path) -> None:
    current = readme.current_tables(README.read_text(), root)
    assert current is not None, (
        f"README lacks the {label(root)} tables: `python -m tests.deploy.terraform.readme --write`"
    )
    assert current == readme.tables(root), "README tables are stale: `python -m tests.deploy.terraform.readme --write`"


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_every_variable_is_typed_described_and_validated(root: Path) -> None:
    found = variables(root)
    assert found
    for variable in found:
        assert variable.type, f"{variable.name} has no type"
        assert len(variable.description or "") > 15, f"{variable.name} has no description"
        if variable.type != "bool" and variable.name not in NOT_VALIDATED:
            assert variable.validations >= 1, f"{variable.name} has no validation block"


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_every_output_is_described(root: Path) -> None:
    found = outputs(root)
    assert found
    undescribed = [output.name for output in found if not output.description or len(output.description) < 15]
    assert not undescribed


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def admits(constraint: str, version: tuple[int, ...]) -> bool:
    """Whether a `>= a, < b` style constraint admits the version (the operators used here only)."""
    compare = {">=": tuple.__ge__, ">": tuple.__gt__, "<": tuple.__lt__, "<=": tuple.__le__, "=": tuple.__eq__}
    parts = [re.fullmatch(r"\s*(>=|<=|>|<|=)\s*([0-9.]+)\s*", part) for part in constraint.split(",")]
    assert all(parts), f"unexpected constraint {constraint!r}"
    return all(compare[m[1]](version, version_tuple(m[2])) for m in parts if m)


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_versions_pin_terraform_and_the_aws_provider(root: Path) -> None:
    (terraform,) = parse(root / "versions.tf")["terraform"]
    required = literal(terraform["required_version"])
    assert admits(required, (1, 11, 4)), f"{required} must admit the terraform the checks run with"
    assert not admits(required, (1, 8, 5)), f"{required}: validations referring to other variables need 1.9"
    assert not admits(required, (2, 0, 0)), f"{required} must be bounded"
    (providers,) = terraform["required_providers"]
    aws = literal(providers["aws"]["version"])
    assert literal(providers["aws"]["source"]) == "hashicorp/aws"
    assert admits(aws, MIRRORED_AWS), f"{aws} must admit the mirrored aws {MIRRORED_AWS}"
    assert not admits(aws, (6, 0, 0)), f"{aws} must stop before the next major version"
    assert not admits(aws, (5, 0, 0)), f"{aws} must start at a version with the resources used (5.80)"
    assert set(providers) - {"__is_block__"} == {"aws"}, "only the aws provider: no registry is reachable for others"


def expected_failures(root: Path) -> dict[str, int]:
    """How many `terraform test` runs expect each variable's validation to fail."""
    counts: dict[str, int] = {}
    for path in sorted((root / "tests").glob("*.tftest.hcl")):
        for run in parse(path).get("run", []):
            for body in run.values():
                for target in body.get("expect_failures", []):
                    name = literal(target).removeprefix("var.")
                    counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_every_validation_block_has_a_failing_run(root: Path) -> None:
    counts = expected_failures(root)
    missing = {v.name: v.validations for v in variables(root) if counts.get(v.name, 0) < v.validations}
    assert not missing, f"variables with fewer expect_failures runs than validation blocks: {missing}"
    assert set(counts) <= {v.name for v in variables(root)}


@pytest.mark.parametrize("root", EXAMPLES, ids=label)
def test_module_outputs_used_by_the_example_exist(root: Path) -> None:
    calls = module_calls(root)
    assert calls
    assert all(path in MODULES for path in calls.values()), "examples use the modules of this repository only"
    text = "\n".join(path.read_text() for path in root.glob("*.tf"))
    for name, output in re.findall(r"\bmodule\.(\w+)\.(\w+)", text):
        assert output in {o.name for o in outputs(calls[name])}, f"module.{name}.{output} is not an output"


# Where each value a chart needs from the platform sits in its values file, and the Terraform value it must be
# rendered from. The templates are YAML before rendering too (placeholders stand in quoted or plain scalars).
NEEDED: dict[str, dict[tuple[str, ...], dict[str, str]]] = {
    "openbao.values.yaml.tftpl": {
        ("server", "ha", "raft", "config"): {
            "openbao_unseal_key_id": "module.kms.openbao_unseal_key_id",
            "region": "var.region",
            "raft_retry_join": "local.raft_retry_join",
        },
        ("server", "serviceAccount", "name"): {"openbao_service_account": "module.eks.openbao_service_account"},
        ("server", "extraEnvironmentVars", "AWS_REGION"): {"region": "var.region"},
        ("server", "ha", "replicas"): {"openbao_replicas": "var.openbao_replicas"},
    },
    "kube-prometheus-stack.values.yaml.tftpl": {
        ("prometheus", "prometheusSpec", "externalLabels", "cluster"): {"cluster_name": "module.eks.cluster_name"},
    },
    "tallyhold.values.yaml.tftpl": {
        ("egressIps",): {"egress_ips_json": "jsonencode(local.egress_ips)"},
        ("env", "TALLYHOLD_EGRESS_IPS"): {"egress_ips_csv": 'join(",", local.egress_ips)'},
        ("database", "host"): {"database_address": "module.database.address"},
        ("database", "port"): {"database_port": "module.database.port"},
    },
}


def templatefile_arguments(root: Path) -> dict[str, dict[str, str]]:
    """templatefile("${path.module}/values/<file>", { key = expression, … }) calls: file → key → expression."""
    text = (root / "platform.tf").read_text()
    calls = re.findall(r'templatefile\("\$\{path\.module\}/values/([^"]+)", \{\n(.*?)\n\s*\}\)', text, re.S)
    return {name: dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", body, re.M)) for name, body in calls}


@pytest.mark.parametrize("root", EXAMPLES, ids=label)
def test_values_templates_parse_and_take_what_they_need_from_terraform(root: Path) -> None:
    arguments = templatefile_arguments(root)
    templates = {path.name: path for path in (root / "values").glob("*.tftpl")}
    assert set(templates) == set(NEEDED) == set(arguments), "every template is rendered and checked here"
    locals_text = (root / "platform.tf").read_text()
    assert "egress_ips = module.egress_ips.public_ips" in locals_text
    for name, path in templates.items():
        text = path.read_text()
        assert "%{" not in text, f"{name}: template directives make the file unreadable as YAML"
        placeholders = set(PLACEHOLDER.findall(text))
        assert all(re.fullmatch(r"\w+", p) for p in placeholders), f"{name}: only plain ${{name}} placeholders"
        assert placeholders == set(arguments[name]), f"{name}: placeholders and templatefile arguments differ"
        document = yaml.safe_load(text)
        for path_keys, wanted in NEEDED[name].items():
            value = document
            for key in path_keys:
                value = value[key]
            for placeholder, expression in wanted.items():
                assert f"${{{placeholder}}}" in str(value), f"{name}: {'.'.join(path_keys)} lacks ${{{placeholder}}}"
                assert arguments[name][placeholder] == expression, f"{name}: {placeholder} must be {expression}"
