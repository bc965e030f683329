"""A till keeps retrying; the points process dies mid-burst. Nothing is lost, nothing doubled."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from deploy.local import Suite
from tests.support import Pos, PostgresDatabases, postgres_reachable, start_suite, unavailable

PURCHASES = 80


@pytest.fixture
def crashable_suite(tmp_path: Path) -> Iterator[Suite]:
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    suite = start_suite(tmp_path, databases.urls, GATEWAY_RPC_TIMEOUT="2")
    yield suite
    suite.stop()
    databases.drop()


def test_sigkill_of_points_mid_burst_loses_and_doubles_nothing(crashable_suite: Suite) -> None:
    suite = crashable_suite
    pos = Pos(suite)
    members = [pos.enrol()["id"] for _ in range(4)]
    answered = threading.Semaphore(0)
    failures_seen = 0
    lock = threading.Lock()

    def till(n: int) -> dict:
        """One purchase, retried with the same body until the club answers 201."""
        nonlocal failures_seen
        body = {
            "transaction_id": f"T-crash-{n}",
            "member_id": members[n % len(members)],
            "amount": str((n % 7 + 1) * 10000),
            "currency": "IRR",
        }
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                response = requests.post(
                    suite.gateway_url + "/v1/purchases",
                    json=body,
                    headers={"Authorization": f"Bearer {pos.api_key}"},
                    timeout=10,
                )
            except requests.RequestException:
                response = None
            if response is not None and response.status_code == 201:
                answered.release()
                return response.json()
            assert response is None or response.status_code >= 500, response.text
            with lock:
                failures_seen += 1
            time.sleep(0.1)
        raise AssertionError(f"purchase {n} never went through")

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(till, n) for n in range(PURCHASES)]
        for _ in range(PURCHASES // 4):
            answered.acquire(timeout=60)
        suite.processes["points"].send_signal(signal.SIGKILL)
        suite.processes["points"].wait(10)
        time.sleep(1)  # the tills keep trying against a dead service
        suite.start_process("points", "services.points")
        results = [future.result() for future in futures]

    assert failures_seen > 0, "the crash went unnoticed: the test did not test anything"
    expected = {member: 0 for member in members}
    for n, result in enumerate(results):
        assert result["points_earned"] == n % 7 + 1
        expected[members[n % len(members)]] += n % 7 + 1
    for member, points in expected.items():
        assert pos.balance(member)["available"] == points
        ledger = pos.api.get(f"/v1/members/{member}/ledger", params={"limit": 200}).json()
        assert len(ledger["items"]) == PURCHASES // len(members)
        assert len({entry["source_id"] for entry in ledger["items"]}) == len(ledger["items"])
