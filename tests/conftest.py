from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import Suite
from tests.campaigns_support import CampaignsWorld
from tests.ledger_support import PointsWorld, sqlite_url
from tests.support import (
    Pos,
    PostgresDatabases,
    postgres_reachable,
    redis_reachable,
    start_suite,
    unavailable,
)

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def redis_available() -> None:
    if not redis_reachable():
        unavailable("Redis at 127.0.0.1:6379")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    yield databases
    databases.drop()


@pytest.fixture(scope="session")
def sqlite_suite(
    tmp_path_factory: pytest.TempPathFactory, redis_available: None
) -> Iterator[Suite]:
    suite = start_suite(tmp_path_factory.mktemp("sqlite-suite"))
    yield suite
    suite.stop()


@pytest.fixture(scope="session")
def postgres_suite(
    tmp_path_factory: pytest.TempPathFactory,
    redis_available: None,
    postgres_databases: PostgresDatabases,
) -> Iterator[Suite]:
    suite = start_suite(tmp_path_factory.mktemp("pg-suite"), postgres_databases.urls)
    yield suite
    suite.stop()


@pytest.fixture(params=BACKENDS)
def suite(request: pytest.FixtureRequest) -> Suite:
    """The running suite, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_suite")


@pytest.fixture
def pos(suite: Suite) -> Pos:
    return Pos(suite)


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def ledger_pg_url() -> Iterator[str]:
    """A PostgreSQL database of its own for tests that drive the points classes directly."""
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    yield databases.urls["points"].replace("postgresql://", "postgresql+psycopg://")
    databases.drop()


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PointsWorld]:
    """The points classes on SQLite and on PostgreSQL, with a clock the test moves."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = request.getfixturevalue("ledger_pg_url")
    world = PointsWorld(url)
    yield world
    world.check_books()
    world.close()


@pytest.fixture(params=BACKENDS)
def campaigns_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CampaignsWorld]:
    """The campaigns classes over a points ledger's events, on SQLite and on PostgreSQL, each
    test with fresh databases."""
    if request.param == "sqlite":
        points = PointsWorld(sqlite_url(tmp_path))
        world = CampaignsWorld(f"sqlite:///{tmp_path / 'campaigns.db'}", points)
    else:
        databases = PostgresDatabases() if postgres_reachable() else None
        if databases is None:
            unavailable("PostgreSQL at 127.0.0.1:5432")
        assert databases is not None
        request.addfinalizer(databases.drop)
        url = "postgresql+psycopg://" + databases.urls["points"].split("://", 1)[1]
        points = PointsWorld(url)
        world = CampaignsWorld(
            url.replace(databases.names["points"], databases.names["campaigns"]), points
        )
    yield world
    world.close()
    points.close()
