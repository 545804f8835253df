"""The Grafana dashboard in deploy/ charts series the bot really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from observability.prometheus import PrometheusMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "klingbot-dashboard.json"


def test_every_series_on_the_dashboard_is_exported() -> None:
    """Each klingbot_* name in a panel query is a sample name of /metrics (after some use)."""
    metrics = PrometheusMetrics()
    metrics.acknowledged(0.4)
    metrics.delivered(2.0)
    metrics.gateway_request("fetch", "200")
    exported = {
        sample.name
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for q in queries for name in re.findall(r"klingbot_[a-z_]+", q)}
    assert used, "the dashboard queries no klingbot series"
    assert used <= exported, used - exported
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("unfinished", "gateway", "acknowledgement", "delivery", "rate limit"):
        assert topic in titles
