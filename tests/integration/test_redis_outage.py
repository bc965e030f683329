"""Redis is a cache, never the source of truth: losing it must not fail a single POS call."""

from __future__ import annotations

import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from deploy.local import Suite, free_port, start_private_redis
from tests.support import Pos, new_phone, start_suite, unavailable


@pytest.fixture
def private_redis() -> Iterator[tuple[str, object]]:
    if not shutil.which("redis-server"):
        unavailable("redis-server")
    port = free_port()
    process = start_private_redis(port)
    yield f"redis://127.0.0.1:{port}/0", process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def suite_on_private_redis(tmp_path: Path, private_redis: tuple[str, object]) -> Iterator[Suite]:
    suite = start_suite(tmp_path, redis_url=private_redis[0])
    yield suite
    suite.stop()


def test_killing_redis_fails_no_pos_call(
    suite_on_private_redis: Suite, private_redis: tuple[str, object]
) -> None:
    url, process = private_redis
    pos = Pos(suite_on_private_redis)
    phones = [new_phone() for _ in range(5)]
    members = [pos.enrol(phone=phone) for phone in phones]
    failures: list[str] = []
    calls = 0
    expected_points = {m["id"]: 0 for m in members}

    def pos_round() -> None:
        nonlocal calls
        for phone, member in zip(phones, members, strict=True):
            found = pos.api.get("/v1/members/identify", params={"phone": phone})
            bought = pos.purchase(member["id"], f"T-{uuid.uuid4().hex[:10]}", amount="100000")
            balance = pos.api.get(f"/v1/members/{member['id']}/points")
            for response in (found, bought, balance):
                calls += 1
                if response.status_code >= 300:
                    failures.append(f"{response.request.method} {response.status_code}")
            if bought.status_code == 201:
                expected_points[member["id"]] += 10

    for _ in range(5):
        pos_round()
    prefix = suite_on_private_redis.env["LOYALTY_CACHE_PREFIX"]
    cached = redis.Redis.from_url(url).keys(f"{prefix}:*")
    assert cached, "the suite did not use the cache before Redis died"

    process.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    process.wait()  # type: ignore[attr-defined]
    for _ in range(10):
        pos_round()

    assert failures == []
    assert calls == 15 * 15
    for member_id, points in expected_points.items():
        assert pos.balance(member_id)["available"] == points
