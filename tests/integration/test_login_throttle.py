"""The staff login throttle on identity's database (SQLite and PostgreSQL), with no cache at all:
concurrent tries cannot get past the limit, a success gives its place back, a window ends."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.identity.identifiers import PiiHasher
from services.identity.server import MIGRATIONS
from services.identity.throttle import LoginThrottle, Reservation
from services.runtime.db import Database
from services.runtime.errors import ResourceExhausted
from tests.support import PostgresDatabases, postgres_reachable, unavailable

LIMIT = 5


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'identity.db'}"
    else:
        if not postgres_reachable():
            unavailable("PostgreSQL at 127.0.0.1:5432")
        databases = PostgresDatabases()
        request.addfinalizer(databases.drop)
        url = "postgresql+psycopg://" + databases.urls["identity"].split("://", 1)[1]
    database = Database(url)
    database.migrate(MIGRATIONS, "identity")
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(database: Database, clock: Clock) -> LoginThrottle:
    return LoginThrottle(database, PiiHasher("test-key"), LIMIT, clock=clock)


def try_login(throttle: LoginThrottle, account: str, client: str) -> Reservation | None:
    try:
        return throttle.reserve(account, client)
    except ResourceExhausted as refused:
        assert refused.code == "login-throttled"
        assert 1 <= refused.retry_after <= 60
        return None


def test_sixty_concurrent_tries_for_one_account_get_five_places(throttle: LoginThrottle) -> None:
    with ThreadPoolExecutor(20) as pool:
        results = list(
            pool.map(lambda i: try_login(throttle, "maryam@example.com", f"10.0.0.{i}"), range(60))
        )
    assert sum(r is not None for r in results) == LIMIT
    assert try_login(throttle, "maryam@example.com", "10.0.1.1") is None
    assert try_login(throttle, "sara@example.com", "10.0.1.1") is not None


def test_one_address_gets_five_places_across_accounts(throttle: LoginThrottle) -> None:
    taken = [try_login(throttle, f"staff-{i}@example.com", "10.9.9.9") for i in range(LIMIT)]
    assert all(taken)
    assert try_login(throttle, "another@example.com", "10.9.9.9") is None
    # The refusal counted nothing for the account it was about.
    assert try_login(throttle, "another@example.com", "10.9.9.10") is not None


def test_a_successful_login_gives_its_place_back(throttle: LoginThrottle) -> None:
    for _ in range(LIMIT * 2):
        reservation = try_login(throttle, "maryam@example.com", "10.0.0.1")
        assert reservation is not None
        throttle.release(reservation)


def test_the_count_starts_again_when_the_window_is_over(
    throttle: LoginThrottle, clock: Clock
) -> None:
    for _ in range(LIMIT):
        assert try_login(throttle, "maryam@example.com", "10.0.0.1") is not None
    clock.now += timedelta(seconds=59)
    assert try_login(throttle, "maryam@example.com", "10.0.0.2") is None
    clock.now += timedelta(seconds=1)
    assert try_login(throttle, "maryam@example.com", "10.0.0.3") is not None
    clock.now += timedelta(minutes=2)
    assert throttle.forget_expired() == 3  # the account and two addresses
