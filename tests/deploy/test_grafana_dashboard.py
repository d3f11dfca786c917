"""The Grafana dashboard JSON is well formed and every query is valid PromQL over real metric names.

No Grafana server runs here (none is installable from the package registries this machine reaches); PromQL
validity is checked by promtool, which parses each panel query as a recording rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.deploy.test_prometheus_rules import exported_names, promtool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "tallyhold-instances.json"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "tallyhold.rules.yml"


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_structure() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        assert grid["h"] > 0
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "job", "instance"}
    assert len(_queries()) >= 20


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, expr in enumerate(_queries()):
        concrete = expr.replace("$job", ".*").replace("$instance", ".*")
        lines += [f"      - record: dashboard:q{index}", f"        expr: {json.dumps(concrete)}"]
    rules = tmp_path / "dashboard.rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr


def test_queries_use_exported_metrics_or_recording_rules() -> None:
    exported = exported_names()
    recorded = set(re.findall(r"record: (\S+)", RULES.read_text()))
    for expr in _queries():
        for name in re.findall(r"\btallyhold[:_][a-z0-9_:]+", expr):
            assert name in exported or name in recorded, name
