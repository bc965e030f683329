"""The balance cache answers fast and is never wrong: not after a change, not when a reader
races a writer, not after Redis was unreachable while a change committed."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest
import redis

from deploy.local import free_port, start_private_redis
from loyalty.points.v1 import points_pb2 as pb
from services.points.balance_cache import BalanceCache
from services.points.servicer import balance_answer
from services.runtime.cache import Cache
from services.runtime.published_balances import PublishedBalances
from tests.ledger_support import STORE, PointsWorld
from tests.support import unavailable


@pytest.fixture
def cached_world(world: PointsWorld) -> Iterator[tuple[PointsWorld, Cache]]:
    if not shutil.which("redis-server"):
        unavailable("redis-server")
    port = free_port()
    server = start_private_redis(port)
    cache = Cache(f"redis://127.0.0.1:{port}/0", "t", retry_after=0)
    balance_cache = BalanceCache(cache)
    balance_cache.publish = lambda member, view: balance_answer(
        member, view, world.balances, "IRR"
    ).SerializeToString()
    world.database.after_commit(balance_cache.on_commit)
    world.balances._cache = balance_cache  # type: ignore[attr-defined]
    yield world, cache
    cache.close()
    server.kill()
    server.wait()


def cached_keys(cache: Cache) -> list[bytes]:
    return cache._client.keys("t:points:view:*")  # type: ignore[union-attr]


def test_a_read_is_cached_and_a_change_is_seen_at_once(
    cached_world: tuple[PointsWorld, Cache],
) -> None:
    world, cache = cached_world
    m = str(uuid.uuid4())
    world.buy(m, 100)
    assert world.points(m)[0] == 100
    assert len(cached_keys(cache)) == 1
    assert world.points(m)[0] == 100  # from the cache
    world.redemptions.hold(STORE, "R-c", m, 40, capture=True)
    assert world.points(m)[0] == 60


def test_a_reader_cannot_put_back_what_a_writer_just_changed(
    cached_world: tuple[PointsWorld, Cache],
) -> None:
    world, _ = cached_world
    m = str(uuid.uuid4())
    world.buy(m, 100)
    stale = world.balances._load_points(uuid.UUID(m))  # type: ignore[attr-defined]

    def slow_load():  # type: ignore[no-untyped-def]
        # The reader has read the database; a purchase commits before it fills the cache.
        world.buy(m, 50)
        return stale

    assert world.balances._cache.read(uuid.UUID(m), slow_load).available == 100  # type: ignore
    assert world.points(m)[0] == 150


def test_a_change_committed_while_redis_was_unreachable_is_not_hidden_after(
    cached_world: tuple[PointsWorld, Cache],
) -> None:
    world, cache = cached_world
    m = str(uuid.uuid4())
    world.buy(m, 100)
    assert world.points(m)[0] == 100  # cached
    reachable = cache._client
    cache._client = redis.Redis(port=9, socket_timeout=0.1, socket_connect_timeout=0.1)
    world.buy(m, 50)  # its invalidation is lost
    assert world.points(m)[0] == 150  # from the database while Redis is away
    cache._client = reachable  # back, with the old view still in it
    assert world.points(m)[0] == 150
    assert world.points(m)[0] == 150


def published(cache: Cache, member: str) -> int | None:
    """The available points the gateway would answer from the cache, or None: ask points."""
    answer = PublishedBalances(cache).answer(member)
    return None if answer is None else pb.GetBalanceResponse.FromString(answer).balance.available


def test_the_gateway_answers_only_from_a_current_entry(
    cached_world: tuple[PointsWorld, Cache],
) -> None:
    world, cache = cached_world
    m = str(uuid.uuid4())
    world.buy(m, 100)
    assert published(cache, m) is None  # nothing read yet
    assert world.points(m)[0] == 100
    assert published(cache, m) == 100
    assert published(cache, m.upper()) == 100  # the same id, spelled otherwise
    world.redemptions.hold(STORE, "R-g", m, 40, capture=True)
    assert published(cache, m) is None  # changed since: points must answer
    assert world.points(m)[0] == 60
    assert published(cache, m) == 60
    assert published(cache, "not-an-id") is None


def test_an_invalidation_lost_while_redis_was_away_is_made_good_without_a_read(
    cached_world: tuple[PointsWorld, Cache],
) -> None:
    """The gateway serves cached balances without asking points, so points cannot wait for a
    read of its own to retire what Redis kept while a change's invalidation was lost."""
    world, cache = cached_world
    m = str(uuid.uuid4())
    world.buy(m, 100)
    assert world.points(m)[0] == 100
    reachable = cache._client
    cache._client = redis.Redis(port=9, socket_timeout=0.1, socket_connect_timeout=0.1)
    world.buy(m, 50)  # its invalidation is lost
    cache._client = reachable  # back, with the old entry still in it
    balance_cache = world.balances._cache  # type: ignore[attr-defined]
    assert balance_cache.settle()  # what points' balance-epoch job runs every second
    assert published(cache, m) is None
    assert world.points(m)[0] == 150
    assert published(cache, m) == 150
