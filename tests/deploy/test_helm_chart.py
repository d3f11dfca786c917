"""The Helm charts (deploy/helm/tallyhold, deploy/helm/tallyhold-namespace) lint strictly, render for every
`ci/` value set, validate against the Kubernetes schemas of every supported version, pass checkov, and hold
the security properties the README promises. No cluster is involved: Helm's own engine renders in-process."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

import tallyhold
from tallyhold_provision.backends.base import BackendError
from tallyhold_provision.backends.kubernetes import CHART_SETTINGS
from tallyhold_provision.podman.spec import INSTANCE_ARGS, INSTANCE_ENTRYPOINT
from tests.deploy.charts import (
    CHART,
    KUBERNETES_VERSIONS,
    NAMESPACE_CHART,
    NAMESPACE_VALUE_SETS,
    ROOT,
    VALUE_SETS,
    every_set,
    load,
    namespace_objects,
    of_kind,
    one,
    pod_specs,
    release,
)

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
DEFAULT = load(VALUE_SETS["default-values"])


def lint_cases() -> list[tuple[Path, Path]]:
    return [(CHART, path) for path in VALUE_SETS.values()] + [
        (NAMESPACE_CHART, p) for p in NAMESPACE_VALUE_SETS.values()
    ]


@pytest.mark.parametrize(("chart", "values"), lint_cases(), ids=lambda p: p.name)
def test_lint_strict(chart: Path, values: Path) -> None:
    namespace = load(values)["customerId"].replace("_", "-")
    result = helm.lint(str(chart), load(values), strict=True, namespace=namespace)
    assert result["errors"] == []
    # Only Helm's information that a chart may have an icon (the project has none to point to).
    assert [m["error"] for m in result["messages"]] == ["icon is recommended"]


@pytest.mark.parametrize("chart", [CHART, NAMESPACE_CHART], ids=lambda p: p.name)
def test_default_values_fail_closed(chart: Path) -> None:
    """The defaults name no customer: rendering them is refused by the schema, naming the missing values."""
    result = helm.lint(str(chart), {}, strict=True, namespace="t-0123456789abcdef")
    assert result["errors"]
    assert "/customerId" in result["errors"][0]
    with pytest.raises(BackendError, match="customerId"):
        release({}) if chart == CHART else namespace_objects({})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"database": {"password": "hunter2"}}, "additional properties 'password' not allowed"),
        ({"suspended": "yes"}, "/suspended"),
        ({"env": {"TALLYHOLD_DATABASE_URL": "postgresql://u:p@h/d"}}, "invalid propertyName 'TALLYHOLD_DATABASE_URL'"),
        ({"env": {"TALLYHOLD_VAULT_TOKEN": "s.abc"}}, "invalid propertyName 'TALLYHOLD_VAULT_TOKEN'"),
        ({"env": {"LD_PRELOAD": "/tmp/x.so"}}, "invalid propertyName 'LD_PRELOAD'"),
        # A provider URL usually carries its API key: never in the ConfigMap, only in the settings Secret.
        (
            {"env": {"TALLYHOLD_EVM_RPC_ETHEREUM": "https://eth.example/v2/hunter2"}},
            "invalid propertyName 'TALLYHOLD_EVM_RPC_ETHEREUM'",
        ),
        ({"env": {"TALLYHOLD_ESPLORA_URL": "https://esplora.example/hunter2"}}, "invalid propertyName"),
        ({"secretSettings": ["TALLYHOLD_DATABASE_URL"]}, "/secretSettings/0"),
        ({"vault": {"tokenExpirationSeconds": 86400}}, "/vault/tokenExpirationSeconds"),
        ({"customerId": "acme"}, "/customerId"),
        ({"networkPolicy": {"postgres": {"cidrs": ["db.example"]}}}, "/networkPolicy/postgres/cidrs/0"),
        ({"tls": {"mode": "none"}}, "/tls/mode"),
    ],
)
def test_schema_rejects_unknown_and_mistyped_values(change: dict[str, Any], message: str) -> None:
    from tallyhold_provision.kube.render import deep_merge

    with pytest.raises(BackendError) as raised:
        release(deep_merge(DEFAULT, change))
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ingress": {"enabled": False}}, "tls.mode is ingress but ingress.enabled is false"),
        ({"tls": {"mode": "instance"}}, "tls.existingSecret must name"),
        ({"networkPolicy": {"postgres": {"cidrs": []}}}, "networkPolicy.postgres.cidrs must list"),
        ({"networkPolicy": {"vault": {"inCluster": False}}}, "networkPolicy.vault.cidrs must list"),
    ],
)
def test_incomplete_values_are_refused_by_name(change: dict[str, Any], message: str) -> None:
    from tallyhold_provision.kube.render import deep_merge

    with pytest.raises(BackendError, match=re.escape(message)):
        release(deep_merge(DEFAULT, change))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly(version: str) -> None:
    checked = 0
    for name, manifests in every_set():
        for manifest in manifests:
            if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # CRDs: no schema is bundled; test_monitoring_objects checks them
            kubernetes_validate.validate(manifest, version, strict=True)
            checked += 1
        assert manifests, name
    assert checked > 25


def test_checkov_passes_with_justified_skips(tmp_path: Path) -> None:
    assert CHECKOV.exists(), "checkov lives in .tools/checkov (make test installs it)"
    for name, manifests in every_set():
        (tmp_path / f"{name}.yaml").write_text("".join("---\n" + yaml.safe_dump(m) for m in manifests))
    command = [str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "-o", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["failed"] == 0, [c["check_id"] for c in report["results"]["failed_checks"]]
    assert summary["passed"] > 400
    skipped = report["results"]["skipped_checks"]
    assert {c["check_id"] for c in skipped} == {"CKV_K8S_43", "CKV_K8S_15"}
    for check in skipped:  # every skip carries its reason, inline in the chart
        assert len(check["check_result"].get("suppress_comment") or "") > 40, check["check_id"]
    assert result.returncode == 0


@pytest.mark.parametrize("values_set", sorted(VALUE_SETS))
def test_pods_run_restricted(values_set: str) -> None:
    manifests = release(load(VALUE_SETS[values_set]))
    specs = pod_specs(manifests)
    assert {name for name, _ in specs} == {"Deployment/tallyhold", "Job/tallyhold-migrate"}
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert "hostNetwork" not in spec
        assert "hostPID" not in spec
        assert "hostIPC" not in spec
        for volume in spec["volumes"]:  # only the volume types Pod Security `restricted` admits
            assert set(volume) - {"name"} <= {"emptyDir", "secret", "configMap", "projected"}, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["runAsNonRoot"] is True
            assert context["runAsUser"] >= 10000
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["privileged"] is False
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            assert "env" not in container or all("valueFrom" not in e for e in container["env"]), name


def test_instance_probes_and_replicas() -> None:
    deployment = one(release(DEFAULT), "Deployment")
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http", "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"] == f"localhost/tallyhold:{tallyhold.__version__}"
    # The instance runs as the podman backend runs it (`python -OO -X no_debug_ranges -m tallyhold.serve`).
    assert (container["command"], "args" in container) == ([INSTANCE_ENTRYPOINT, *INSTANCE_ARGS], False)
    tls = one(release(load(VALUE_SETS["instance-tls-values"])), "Deployment")
    assert tls["spec"]["replicas"] == 0  # suspended
    assert tls["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert "@sha256:" in tls["spec"]["template"]["spec"]["containers"][0]["image"]


def test_vault_login_uses_a_short_lived_audience_bound_token_and_no_secret_id() -> None:
    manifests = release(DEFAULT)
    settings = one(manifests, "ConfigMap")["data"]
    spec = one(manifests, "Deployment")["spec"]["template"]["spec"]
    projected = next(v["projected"] for v in spec["volumes"] if v["name"] == "vault-token")
    assert projected["sources"] == [
        {"serviceAccountToken": {"path": "token", "audience": "vault", "expirationSeconds": 600}}
    ]
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "vault-token")
    assert settings["TALLYHOLD_VAULT_K8S_JWT_PATH"] == mount["mountPath"] + "/token"
    assert settings["TALLYHOLD_VAULT_AUTH"] == "kubernetes"
    assert settings["TALLYHOLD_VAULT_K8S_ROLE"] == "t_0123456789abcdef"
    assert settings["TALLYHOLD_VAULT_KEY"] == "t-0123456789abcdef"
    assert not {"TALLYHOLD_VAULT_SECRET_ID", "TALLYHOLD_VAULT_ROLE_ID", "TALLYHOLD_VAULT_TOKEN"} & set(settings)
    assert spec["serviceAccountName"] == "tallyhold"
    # The database URL is a file named after its setting, from the referenced Secret; never in the ConfigMap.
    settings_volume = next(v["secret"] for v in spec["volumes"] if v["name"] == "settings")
    assert settings_volume["items"] == [{"key": "TALLYHOLD_DATABASE_URL", "path": "TALLYHOLD_DATABASE_URL"}]
    assert settings_volume["secretName"] == "tallyhold-database"
    assert settings["TALLYHOLD_SECRETS_DIR"] == "/var/run/secrets/tallyhold/settings"
    assert "TALLYHOLD_DATABASE_URL" not in settings
    assert not of_kind(manifests, "Secret")


def test_tls_settings_follow_where_tls_ends() -> None:
    assert one(release(DEFAULT), "ConfigMap")["data"]["TALLYHOLD_TLS_UPSTREAM"] == "true"
    ingress = one(release(DEFAULT), "Ingress")["spec"]
    assert ingress["tls"] == [{"hosts": ["t-0123456789abcdef.tallyhold.example"], "secretName": "tallyhold-tls"}]
    instance = one(release(load(VALUE_SETS["instance-tls-values"])), "ConfigMap")["data"]
    assert "TALLYHOLD_TLS_UPSTREAM" not in instance
    assert instance["TALLYHOLD_TLS_CERT_FILE"] == "/var/run/secrets/tallyhold/tls/tls.crt"


def _egress(policy: dict[str, Any]) -> list[tuple[str, tuple[tuple[int | str, str], ...]]]:
    rules = []
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), "a rule without `to` would allow every destination"
        assert rule.get("ports"), "a rule without ports would allow every port"
        peers = json.dumps(rule["to"], sort_keys=True)
        rules.append((peers, tuple((p["port"], p["protocol"]) for p in rule["ports"])))
    return rules


def test_network_policy_allows_only_dns_postgres_vault_and_443() -> None:
    manifests = release(DEFAULT)
    policy = one(manifests, "NetworkPolicy", "tallyhold")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "instance"
    egress = _egress(policy)
    assert [ports for _, ports in egress] == [((53, "UDP"), (53, "TCP")), ((5432, "TCP"),), ((8200, "TCP"),),
                                              ((443, "TCP"),)]  # fmt: skip
    dns, postgres, vault, internet = (json.loads(peers) for peers, _ in egress)
    assert dns == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]  # fmt: skip
    assert postgres == [{"ipBlock": {"cidr": "10.20.0.5/32"}}]
    assert vault == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "vault"}}}]
    block = internet[0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    # Cloud metadata (169.254.169.254), private networks and other tenants' pods are outside the 443 rule.
    assert {"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(block["except"])
    ingress = policy["spec"]["ingress"]
    assert [(r["from"][0]["namespaceSelector"]["matchLabels"], r["ports"]) for r in ingress] == [
        ({"kubernetes.io/metadata.name": "ingress-nginx"}, [{"port": "http", "protocol": "TCP"}]),
        ({"kubernetes.io/metadata.name": "monitoring"}, [{"port": "metrics", "protocol": "TCP"}]),
    ]
    # The migration Job's own allowance: DNS and Postgres only, created before the Job (a hook, weight -10).
    migrate = one(manifests, "NetworkPolicy", "tallyhold-migrate")
    assert [ports for _, ports in _egress(migrate)] == [((53, "UDP"), (53, "TCP")), ((5432, "TCP"),)]
    assert migrate["spec"]["ingress"] == []
    assert migrate["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"


def test_egress_gateway_replaces_the_direct_443_rule() -> None:
    policy = one(release(load(VALUE_SETS["egress-gateway-values"])), "NetworkPolicy", "tallyhold")
    egress = _egress(policy)
    assert all("0.0.0.0/0" not in peers for peers, _ in egress)
    assert all(ports != ((443, "TCP"),) for _, ports in egress)
    gateway = json.loads(egress[-1][0])
    assert gateway == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "egress"}},
                        "podSelector": {"matchLabels": {"app": "egress-proxy"}}}]  # fmt: skip
    assert egress[-1][1] == ((3128, "TCP"),)
    assert json.loads(egress[2][0]) == [{"ipBlock": {"cidr": "10.30.0.0/28"}}]  # Vault outside the cluster


def test_namespace_objects() -> None:
    manifests = namespace_objects(load(NAMESPACE_VALUE_SETS["default-values"]))
    namespace = one(manifests, "Namespace")
    assert namespace["metadata"]["name"] == "t-0123456789abcdef"
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.30"
    deny = one(manifests, "NetworkPolicy")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    quota = one(manifests, "ResourceQuota")["spec"]["hard"]
    assert quota["services.loadbalancers"] == "0"
    assert quota["services.nodeports"] == "0"
    assert {"requests.cpu", "limits.memory", "pods"} <= set(quota)
    assert one(manifests, "LimitRange")["spec"]["limits"][0]["type"] == "Container"
    account = one(manifests, "ServiceAccount")
    assert account["metadata"]["name"] == "tallyhold"
    assert account["automountServiceAccountToken"] is False
    assert all(m["metadata"].get("namespace") == "t-0123456789abcdef" for m in manifests if m["kind"] != "Namespace")
    # The instance's pods fit in the quota with a rolling update's second pod.
    limits = one(release(DEFAULT), "Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "768Mi"
    assert quota["limits.memory"] == "2Gi"


def test_monitoring_objects_use_the_promtool_tested_rules() -> None:
    manifests = release(load(VALUE_SETS["egress-gateway-values"]))
    rules_file = ROOT / "deploy" / "prometheus" / "rules" / "tallyhold.rules.yml"
    link = CHART / "files" / "tallyhold.rules.yml"
    assert link.is_symlink()
    assert link.resolve() == rules_file.resolve()
    rule = one(manifests, "PrometheusRule")
    assert rule["spec"]["groups"] == load(rules_file)["groups"]
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    # The alert for a dead instance matches job names starting with `tallyhold`: the job label is part-of.
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/part-of"
    assert service["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tallyhold"
    assert not of_kind(release(DEFAULT), "PrometheusRule")  # off unless asked for (needs the CRDs)


def test_migration_is_a_pre_install_and_pre_upgrade_hook() -> None:
    job = one(release(DEFAULT), "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["migrate"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TALLYHOLD_DB_SCHEMA"] == "t_0123456789abcdef"
    assert env["TALLYHOLD_SECRETS_DIR"] == "/var/run/secrets/tallyhold/settings"
    migration = load(VALUE_SETS["egress-gateway-values"])
    items = next(v for v in pod_specs(release(migration)) if v[0] == "Job/tallyhold-migrate")[1]["volumes"][1]
    assert {i["path"] for i in items["secret"]["items"]} == {
        "TALLYHOLD_DATABASE_URL",
        "TALLYHOLD_MIGRATION_DATABASE_URL",
    }


def test_secret_settings_are_files_of_the_settings_secret_and_roll_the_pod() -> None:
    values = load(VALUE_SETS["egress-gateway-values"])
    rendered = release(values)
    assert "rpc" not in json.dumps(one(rendered, "ConfigMap")["data"]).lower()
    deployment = one(rendered, "Deployment")
    settings = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "settings")
    assert settings["secret"]["items"] == [
        {"key": "TALLYHOLD_DATABASE_URL", "path": "TALLYHOLD_DATABASE_URL"},
        {"key": "TALLYHOLD_EVM_RPC_ETHEREUM", "path": "TALLYHOLD_EVM_RPC_ETHEREUM"},
    ]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"] == "4f1c0a9e"
    assert "checksum/settings" not in one(release(DEFAULT), "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_app_version_is_the_tracker_version() -> None:
    tracker = tomllib.loads((ROOT / "services" / "tracker" / "pyproject.toml").read_text())["project"]["version"]
    assert tracker == tallyhold.__version__
    assert load(CHART / "Chart.yaml")["appVersion"] == tracker
    assert load(NAMESPACE_CHART / "Chart.yaml")["appVersion"] == tracker


def test_chart_settings_are_the_ones_the_schema_refuses_in_env() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    refused = set(schema["properties"]["env"]["propertyNames"]["not"]["enum"])
    assert refused | {"TALLYHOLD_VAULT_APPROLE_MOUNT"} == CHART_SETTINGS


KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z][\w.-]*):")


@pytest.mark.parametrize("chart", [CHART, NAMESPACE_CHART], ids=lambda p: p.name)
def test_every_value_is_documented_and_in_the_schema(chart: Path) -> None:
    """One `# --` comment per value (a leaf, or a map of free-form entries), as helm-docs reads them."""
    lines = (chart / "values.yaml").read_text().splitlines()
    values = load(chart / "values.yaml")
    schema = json.loads((chart / "values.schema.json").read_text())
    stack: list[tuple[int, str]] = []
    documented: set[tuple[str, ...]] = set()
    for number, line in enumerate(lines):
        match = KEY.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        stack = [(i, k) for i, k in stack if i < indent]
        stack.append((indent, match["key"]))
        path = [k for _, k in stack]
        value: Any = values
        node: dict[str, Any] = schema
        for key in path:
            value = value[key]
            if "properties" not in node:
                break  # an entry of a free-form map (labels, env): its map is the documented value
            assert key in node["properties"], f"{'.'.join(path)} is not in values.schema.json"
            node = node["properties"][key]
        else:
            node = {**node, "checked": True}
        if "checked" not in node:
            continue
        previous = number - 1
        while previous >= 0 and lines[previous].strip().startswith("#") and "# --" not in lines[previous]:
            previous -= 1
        if previous >= 0 and lines[previous].strip().startswith("# --"):
            documented.add(tuple(path))  # its comment covers what is inside it too
            continue
        if any(tuple(path[:n]) in documented for n in range(1, len(path))):
            continue
        assert isinstance(value, dict), f"{'.'.join(path)} has no `# --` comment"
        assert value, f"{'.'.join(path)} has no `# --` comment"
        assert node.get("additionalProperties") is False  # an undocumented group holds documented members


def test_defaults_are_schema_valid_apart_from_the_customer() -> None:
    values = copy.deepcopy(load(CHART / "values.yaml"))
    result = helm.lint(str(CHART), {}, strict=True, namespace="t-0")
    # Exactly the three values that name a customer's own resources are missing, nothing else is wrong.
    text = result["errors"][0]
    assert set(re.findall(r"at '(/[^']+)'", text)) == {"/customerId", "/database/existingSecret", "/vault/addr"}
    assert values["networkPolicy"]["enabled"] is True
    assert values["serviceAccount"]["create"] is True


def _secret_findings(directory: Path) -> list[str]:
    command = [str(CHECKOV), "-d", str(directory), "--framework", "secrets", "--skip-download", "-o", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    if "results" not in report:  # checkov's answer when it found nothing to report
        assert report["failed"] == 0
        return []
    return [f"{c['check_id']} {c['file_path']}" for c in report["results"]["failed_checks"]]


def test_no_secret_in_the_charts_or_anything_they_render(tmp_path: Path) -> None:
    """No secret in the charts or their renders, offline: checkov's secret scanner (detect-secrets) over deploy/helm
    and every render."""
    assert CHECKOV.exists(), "checkov lives in .tools/checkov (make test installs it)"
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    for name, manifests in every_set():
        (rendered / f"{name}.yaml").write_text("".join("---\n" + yaml.safe_dump(m) for m in manifests))
    assert _secret_findings(ROOT / "deploy" / "helm") == []
    assert _secret_findings(rendered) == []
    # The scanner does find a credential where one is planted, so the two empty answers above mean something.
    planted = tmp_path / "planted"
    planted.mkdir()
    leaked = dict(DEFAULT, env={"TALLYHOLD_EVM_RPC_ETHEREUM": "https://rpc.example/"})
    text = yaml.safe_dump(leaked) + 'aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
    (planted / "values.yaml").write_text(text)
    assert _secret_findings(planted)
