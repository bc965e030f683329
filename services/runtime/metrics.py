"""Prometheus metrics of every process, and the endpoint that serves them.

A service serves them on `<SERVICE>_METRICS_PORT` (unset or 0: not served, though still
counted). The gateway runs several gunicorn workers: each writes its samples to files in one
directory (prometheus-client's multiprocess mode) and the gunicorn master serves the sum of
all workers on `GATEWAY_METRICS_PORT`, so a scrape sees the whole gateway, not one worker.

Ratios and lags are left to the queries, as Prometheus intends, for instance:
- cache hit ratio: `sum(rate(loyalty_cache_lookups_total{result="hit"}[5m]))
  / sum(rate(loyalty_cache_lookups_total[5m]))`
- consumer lag: `loyalty_outbox_head_sequence - on(source) loyalty_consumer_last_sequence`
  (0 exactly when the consumer has read everything; otherwise about the events left, as
  sequences are taken a little out of the order events are read in)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from services.runtime.logs import log

logger = logging.getLogger(__name__)

# Seconds; dense below 50 ms, where the till's calls should be.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5)

RPC_HANDLED = Counter(
    "loyalty_grpc_server_handled",
    "gRPC calls served, by method and status code",
    ["method", "code"],
)
RPC_SECONDS = Histogram(
    "loyalty_grpc_server_handling_seconds",
    "Time to serve a gRPC call, by method and status code",
    ["method", "code"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "loyalty_http_requests",
    "HTTP requests answered by the gateway, by method, route pattern and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "loyalty_http_request_duration_seconds",
    "Time for the gateway to answer, by method, route pattern and status",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
POSTINGS = Counter(
    "loyalty_points_postings",
    "Ledger postings committed, by kind (earn, redeem, expire, ...)",
    ["kind"],
)
POINTS_POSTED = Counter(
    "loyalty_points_posted",
    "Points moved by committed ledger postings, by kind",
    ["kind"],
)
CACHE_LOOKUPS = Counter(
    "loyalty_cache_lookups",
    "Cache look-ups by cache, kind of key and result (hit, miss, unavailable)",
    ["cache", "kind", "result"],
)
CONSUMER_POSITION = Gauge(
    "loyalty_consumer_last_sequence",
    "Sequence of the last integration event a consumer applied",
    ["consumer", "source"],
)


# The children of each label set, looked up once: `labels()` takes a lock and checks the
# values on every call, and these run on every request.
_rpc_series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
_http_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
_lookup_series: dict[tuple[str, str, str], Counter] = {}
K = TypeVar("K")
S = TypeVar("S")


def _series(found: dict[K, S], labels: K, make: Callable[[], S]) -> S:
    series = found.get(labels)
    if series is None:
        series = found[labels] = make()
    return series


def observe_rpc(method: str, code: str, seconds: float) -> None:
    handled, timed = _series(
        _rpc_series,
        (method, code),
        lambda: (RPC_HANDLED.labels(method, code), RPC_SECONDS.labels(method, code)),
    )
    handled.inc()
    timed.observe(seconds)


# Any other method, made up by a client, is labelled "other": each label value is a series of
# its own, so what a client sends must not decide how many there are.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    """`route` is the matched route's pattern (or one value for every unmatched path)."""
    method = method if method in HTTP_METHODS else "other"
    requests, timed = _series(
        _http_series,
        (method, route, status),
        lambda: (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_SECONDS.labels(method, route, str(status)),
        ),
    )
    requests.inc()
    timed.observe(seconds)


def count_postings(postings: Iterable[tuple[str, int]]) -> None:
    """(kind, points moved) of postings that have just committed."""
    for kind, points in postings:
        POSTINGS.labels(kind).inc()
        POINTS_POSTED.labels(kind).inc(points)


def count_lookup(cache: str, kind: str, result: str) -> None:
    labels = cache, kind, result
    _series(_lookup_series, labels, lambda: CACHE_LOOKUPS.labels(*labels)).inc()


def consumer_applied(consumer: str, source: str, sequence: int) -> None:
    """For an event consumer: the sequence of the last event it applied and committed."""
    CONSUMER_POSITION.labels(consumer, source).set(sequence)


class OutboxHead(Collector):
    """`loyalty_outbox_head_sequence{source}`: the sequence of the last event in a service's
    outbox in the order consumers read them (services.runtime.outbox.head), read from its
    database at scrape time (one index look-up)."""

    def __init__(self, source: str, head: Callable[[], int | None]) -> None:
        self._source = source
        self._head = head

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "loyalty_outbox_head_sequence",
            "Sequence of the last event in the service's outbox, in the order it is read",
            labels=["source"],
        )
        try:
            head = self._head()
        except Exception as error:  # a scrape must not fail because the database is down
            log(logger, "outbox head unreadable", logging.WARNING, error=type(error).__name__)
            return
        family.add_metric([self._source], float(head or 0))
        yield family


def register(collector: Collector) -> None:
    REGISTRY.register(collector)


def serve(port: int, addr: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY) -> None:
    """Serves /metrics on `port` from a daemon thread; 0 serves nothing."""
    if port:
        start_http_server(port, addr, registry=registry)
        log(logger, "metrics served", port=port)


def multiprocess_registry() -> CollectorRegistry:
    """The sum of every worker's samples in `PROMETHEUS_MULTIPROC_DIR`."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def worker_exited(pid: int) -> None:
    """Lets the files of a dead gunicorn worker stop counting as live (gauges only)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
