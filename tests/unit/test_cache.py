from __future__ import annotations

import gc
import threading
import time
import uuid

import pytest
import redis

from services.runtime.cache import Cache
from tests.support import REDIS_TEST_URL, redis_reachable, unavailable


def test_a_cache_with_no_redis_misses_and_never_raises() -> None:
    cache = Cache(None, "t")
    cache.set("k", "v", 10)
    assert cache.get("k") is None
    assert cache.ping() is False


class _Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the cache used Redis ({name}) while it was marked down")


def test_a_dead_redis_costs_one_failure_then_is_skipped_until_retry() -> None:
    # Nothing listens on port 9 of the loopback: connections are refused.
    cache = Cache("redis://127.0.0.1:9/0", "t", timeout=0.1, retry_after=0.5)
    assert cache.get("k") is None
    dead_client = cache._client
    cache._client = _Untouchable()  # type: ignore[assignment]
    for _ in range(100):
        assert cache.get_json("k") is None
        cache.set("k", "v", 10)
        cache.delete("k")
    time.sleep(0.6)
    cache._client = dead_client
    assert cache.get("k") is None  # tried again, failed again, no exception


def test_values_round_trip_through_a_real_redis() -> None:
    if not redis_reachable():
        unavailable("Redis at 127.0.0.1:6379")
    cache = Cache(REDIS_TEST_URL, f"test-{uuid.uuid4().hex[:8]}")
    cache.set_json("member", {"id": "m1", "points": 5}, 10)
    assert cache.get_json("member") == {"id": "m1", "points": 5}
    cache.delete("member")
    assert cache.get("member") is None


@pytest.mark.parametrize("prefix", ["a", "b"])
def test_prefixes_keep_installations_apart(prefix: str) -> None:
    if not redis_reachable():
        unavailable("Redis at 127.0.0.1:6379")
    mine = Cache(REDIS_TEST_URL, f"{prefix}-{uuid.uuid4().hex[:8]}")
    theirs = Cache(REDIS_TEST_URL, f"{prefix}-{uuid.uuid4().hex[:8]}")
    mine.set("k", "mine", 10)
    assert theirs.get("k") is None


def test_rate_limit_refuses_past_the_limit_and_says_how_long_to_wait() -> None:
    if not redis_reachable():
        unavailable("Redis")
    cache = Cache(REDIS_TEST_URL, f"t-{uuid.uuid4().hex}")
    decisions = [cache.hit("otp:phone-hash", limit=3, window_seconds=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert decisions[-1].used == 5
    assert 0 < decisions[-1].retry_after <= 60
    assert cache.hit("otp:another", limit=3, window_seconds=60).allowed


def test_rate_limit_lets_everything_through_without_redis() -> None:
    cache = Cache("redis://127.0.0.1:9/0", "t", timeout=0.1)
    assert all(cache.hit("k", limit=1, window_seconds=60).allowed for _ in range(3))


def test_a_guarded_set_holds_only_while_its_guards_do_even_after_redis_forgot_its_scripts() -> None:
    if not redis_reachable():
        unavailable("Redis")
    cache = Cache(REDIS_TEST_URL, f"t-{uuid.uuid4().hex}")
    cache.incr_many("gen")
    assert cache._client is not None
    cache._client.script_flush()  # as after a restart of Redis: the script is sent again in full
    cache.set_if_unchanged({"gen": b"1", "epoch": None}, "view", "old", 10)
    assert cache.get_many("view") == [b"old"]
    cache.incr_many("gen")
    cache.set_if_unchanged({"gen": b"1", "epoch": None}, "view", "stale", 10)
    assert cache.get_many("gen", "view") == [b"2", b"old"]


def test_a_refused_command_among_several_leaves_no_answer_for_the_next_call() -> None:
    if not redis_reachable():
        unavailable("Redis")
    cache = Cache(REDIS_TEST_URL, f"t-{uuid.uuid4().hex}", retry_after=0.05)
    cache.set("word", "not a number", 10)
    assert cache.incr_many("a", "word", "b") is False
    time.sleep(0.1)
    assert cache.get_many("a", "b", "word") == [b"1", b"1", b"not a number"]
    assert cache.hit("k", limit=5, window_seconds=60).used == 1


def test_a_thread_that_ends_closes_its_connection_to_redis() -> None:
    if not redis_reachable():
        unavailable("Redis")
    cache = Cache(REDIS_TEST_URL, f"t-{uuid.uuid4().hex}")
    addresses: list[str] = []

    def work() -> None:
        cache.get("k")
        host, port = cache._own.held.connection._sock.getsockname()
        addresses.append(f"{host}:{port}")

    for _ in range(3):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    gc.collect()
    assert len(addresses) == 3
    connected = {client["addr"] for client in redis.Redis.from_url(REDIS_TEST_URL).client_list()}
    assert not connected & set(addresses)
    cache.get("k")  # the thread that keeps going keeps its connection
    assert len(cache._held) == 1
