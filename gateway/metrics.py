"""Prometheus metrics: the gateway's own counters, and run outcomes read from the catalog."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from vidp import catalog

__all__ = ["Metrics"]

_DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)


class _CatalogCollector(Collector):
    """Read at scrape time, so every gateway replica reports the same numbers."""

    def collect(self) -> Iterator[Metric]:
        with catalog.session() as s:
            counts = dict(
                s.execute(
                    select(catalog.Video.status, func.count()).group_by(catalog.Video.status)
                ).all()
            )
            durations = [
                d for d in s.scalars(select(catalog.Video.duration_s)).all() if d is not None
            ]
        videos = GaugeMetricFamily(
            "vidp_videos", "Videos in the catalog by status", labels=["status"]
        )
        for status in ("queued", "running", "completed", "failed"):
            videos.add_metric([status], counts.get(status, 0))
        yield videos
        buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in _DURATION_BUCKETS]
        yield HistogramMetricFamily(
            "vidp_run_duration_seconds",
            "How long completed runs took (the manifest's total)",
            buckets=[*buckets, ("+Inf", len(durations))],
            sum_value=sum(durations),
        )


class Metrics:
    """One registry per app: requests, runs triggered, webhook rejects, and the catalog's view."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vidp_gateway_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.runs_triggered = Counter(
            "vidp_gateway_runs_triggered",
            "process-video runs started (or found again by idempotency key)",
            ["via"],
            registry=self.registry,
        )
        self.webhook_rejects = Counter(
            "vidp_gateway_webhook_rejects",
            "Webhook requests refused for their signature or timestamp",
            ["endpoint"],
            registry=self.registry,
        )
        self.registry.register(_CatalogCollector())
