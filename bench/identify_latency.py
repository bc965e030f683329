"""Identify at the till, through the gateway, with the cache warm: how long a cashier waits.

Starts the suite on PostgreSQL (databases of its own) with the machine's Redis, enrols members,
identifies each once to warm the cache, then times identify calls by phone (typed in another
format than at enrolment), by card and by QR token, one after another over a kept-alive
connection as a till makes them. Prints the median and 95th percentile of each.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
import requests

from bench.ledger_scale import ADMIN_URL
from deploy.local import DEFAULT_REDIS_URL, SERVICES, start_isolated

TARGET_MS = 5.0


def create_databases() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    names = {service: f"loyalty_bench_{tag}_{service}" for service in SERVICES}
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    return {service: f"{base}/{name}" for service, name in names.items()}


def drop_databases(urls: dict[str, str]) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for url in urls.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def timed(session: requests.Session, url: str, params: dict) -> float:
    started = time.perf_counter()
    response = session.get(url, params=params, timeout=10)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return elapsed


class Till:
    """A bare keep-alive HTTP/1.1 client, as a till's is: what `requests` itself spends per
    call (about a millisecond in Python) is left out of the figure."""

    def __init__(self, base_url: str, key: str) -> None:
        parsed = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        self._headers = {"Authorization": f"Bearer {key}"}

    def identify(self, params: dict) -> float:
        path = "/v1/members/identify?" + urlencode(params)
        started = time.perf_counter()
        self._connection.request("GET", path, headers=self._headers)
        response = self._connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status == 200, body
        return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    urls = create_databases()
    with tempfile.TemporaryDirectory() as directory:
        suite = start_isolated(
            Path(directory), urls, DEFAULT_REDIS_URL, f"bench-{uuid.uuid4().hex[:8]}"
        )
        try:
            admin = requests.Session()
            admin.headers["Authorization"] = f"Bearer {suite.env['LOYALTY_ADMIN_TOKEN']}"
            base = suite.gateway_url
            store = admin.post(f"{base}/v1/admin/stores", json={"name": "bench"}).json()
            key = admin.post(f"{base}/v1/admin/stores/{store['id']}/api-keys").json()["api_key"]
            till = requests.Session()
            till.headers["Authorization"] = f"Bearer {key}"
            members = []
            for n in range(args.members):
                digits = f"{n:07d}"
                member = till.post(f"{base}/v1/members", json={"phone": f"0912{digits}"}).json()
                members.append((f"+98 912 {digits[:3]} {digits[3:]}", member["card_number"]))

            url = f"{base}/v1/members/identify"
            for phone, card in members:  # warm the cache
                timed(till, url, {"phone": phone})
                timed(till, url, {"card": card})
            figures: dict[str, list[float]] = {
                "phone": [],
                "card": [],
                "phone, requests client": [],
            }
            bare = Till(base, key)
            for _ in range(args.rounds):
                for phone, card in members:
                    figures["phone"].append(bare.identify({"phone": phone}))
                    figures["card"].append(bare.identify({"card": card}))
                    figures["phone, requests client"].append(timed(till, url, {"phone": phone}))
        finally:
            suite.stop()
            drop_databases(urls)

    print(f"identify through the gateway, cache warm, PostgreSQL, {args.members} members")
    print(f"{'by':<24}{'calls':>8}{'median ms':>12}{'p95 ms':>10}")
    for name, values in figures.items():
        print(
            f"{name:<24}{len(values):>8}{statistics.median(values):>12.2f}"
            f"{percentile(values, 0.95):>10.2f}"
        )
    overall = statistics.median(figures["phone"] + figures["card"])
    verdict = "meets" if overall < TARGET_MS else "misses"
    print(f"median {overall:.2f} ms: {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
