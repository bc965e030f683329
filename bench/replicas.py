"""How the calls to a service were spread over its replicas, and how far behind points' event
consumers are, read from each process's /metrics."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from deploy.local import Suite

# The calls a till's purchase makes each service serve.
PURCHASE_CALLS = {
    "points": "/loyalty.points.v1.PointsService/RecordPurchase",
    "campaigns": "/loyalty.campaigns.v1.CampaignsService/EvaluatePurchase",
}


def samples(metrics_port: int) -> list:
    """Every sample the process behind `metrics_port` serves."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def calls_served(metrics_port: int, method: str) -> int:
    """How many calls of `method` the process behind `metrics_port` has answered, any status."""
    return int(
        sum(
            sample.value
            for sample in samples(metrics_port)
            if sample.name == "loyalty_grpc_server_handled_total"
            and sample.labels.get("method") == method
        )
    )


def points_backlog(suite: Suite) -> dict[str, float]:
    """Points' outbox head less the furthest any replica of each of its consumers (campaigns'
    member view, webhooks) got: 0 exactly when the consumer has applied every event; otherwise
    about how many are left, of either sign (services.runtime.outbox.head)."""
    head = max(
        sample.value
        for sample in samples(suite.replicas["points"][0].metrics_port)
        if sample.name == "loyalty_outbox_head_sequence" and sample.labels["source"] == "points"
    )
    applied: dict[str, float] = {}
    for service in ("campaigns", "webhooks"):
        for replica in suite.replicas[service]:
            for sample in samples(replica.metrics_port):
                if (
                    sample.name == "loyalty_consumer_last_sequence"
                    and sample.labels["source"] == "points"
                ):
                    consumer = sample.labels["consumer"]
                    applied[consumer] = max(applied.get(consumer, 0.0), sample.value)
    return {consumer: head - position for consumer, position in applied.items()}


def counts(suite: Suite) -> dict[str, dict[str, int]]:
    """Each replicated service's purchase calls served so far, by replica."""
    return {
        service: {
            replica.name: calls_served(replica.metrics_port, method)
            for replica in suite.replicas[service]
        }
        for service, method in PURCHASE_CALLS.items()
        if len(suite.replicas.get(service, [])) > 1
    }


def shares(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """Each replica's share of its service's calls between two `counts`."""
    result: dict[str, dict[str, float]] = {}
    for service, replicas in after.items():
        served = {name: n - before.get(service, {}).get(name, 0) for name, n in replicas.items()}
        total = sum(served.values())
        result[service] = {name: n / total if total else 0.0 for name, n in served.items()}
    return result


def describe(shares_by_service: dict[str, dict[str, float]]) -> str:
    return "; ".join(
        f"{service}: " + ", ".join(f"{name} {share:.0%}" for name, share in replicas.items())
        for service, replicas in shares_by_service.items()
    )
