"""`PrometheusMetrics`: the `Metrics` port as Prometheus series, in a registry of its own (one
per bot, so several bots, or tests, can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.process_collector import ProcessCollector

from videojobs.telemetry import OUTCOMES

KINDS = ("create", "fetch", "download")
# Discord wants the first response within 3 s
ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
# a callback delivers in well under a second; the polling safety net in minutes
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0)


class PrometheusMetrics:
    """Implements `videojobs.ports.Metrics`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.admitted = Counter(
            "klingbot_tasks_admitted", "Tasks that passed the rules and limits", registry=r
        )
        self.finished = Counter(
            "klingbot_tasks_finished", "Tasks that ended, by outcome", ["outcome"], registry=r
        )
        for outcome in OUTCOMES:  # every outcome shows, at 0, from the start
            self.finished.labels(outcome)
        self.unfinished = Gauge(
            "klingbot_tasks_unfinished",
            "Tasks not yet finished (all processes: read from the database at each scrape)",
            registry=r,
        )
        self.gateway_requests = Counter(
            "klingbot_gateway_requests",
            "HTTP requests to the video gateway (and its CDN for downloads), by kind and status",
            ["kind", "status"],
            registry=r,
        )
        self.ack = Histogram(
            "klingbot_ack_seconds",
            "From an interaction to the bot's first response",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.delivery = Histogram(
            "klingbot_delivery_seconds",
            "From a task's result becoming known to the bot to its delivery in Discord",
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "klingbot_discord_rate_limited", "Discord answers with status 429", registry=r
        )
        ProcessCollector(registry=r)

    # --- the port -------------------------------------------------------------------------------

    def task_admitted(self) -> None:
        self.admitted.inc()

    def task_finished(self, outcome: str) -> None:
        self.finished.labels(outcome).inc()

    def gateway_request(self, kind: str, status: str) -> None:
        self.gateway_requests.labels(kind, status).inc()

    def acknowledged(self, seconds: float) -> None:
        self.ack.observe(max(0.0, seconds))

    def delivered(self, seconds: float) -> None:
        self.delivery.observe(max(0.0, seconds))

    def discord_rate_limited(self) -> None:
        self.rate_limited.inc()

    # --- exposition -----------------------------------------------------------------------------

    def set_unfinished(self, count: int) -> None:
        self.unfinished.set(count)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
