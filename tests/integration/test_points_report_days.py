"""The points report's past days are kept once closed: read back, they match the figures
counted live from the ledger, however often and by however many processes they were kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.points.catalog import RewardSpec
from services.points.day_figures import JOB_DAYS, DayFigures
from services.points.models import ClosedDay
from services.points.reports import Reports
from tests.ledger_support import PointsWorld, sqlite_url
from tests.support import PostgresDatabases, postgres_reachable, unavailable

START = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PointsWorld]:
    """A ledger of its own: the days this test closes are not another test's."""
    if request.param == "sqlite":
        world = PointsWorld(sqlite_url(tmp_path))
        yield world
        world.close()
        return
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    world = PointsWorld(databases.urls["points"].replace("postgresql://", "postgresql+psycopg://"))
    yield world
    world.check_books()
    world.close()
    databases.drop()


def kept_days(world: PointsWorld) -> int:
    with world.database.read() as session:
        return session.scalar(
            select(func.count()).where(ClosedDay.day >= START.date() - timedelta(days=1))
        )


def test_closed_days_read_back_as_counted_live(world: PointsWorld) -> None:
    world.clock.now = START
    buyers = [str(uuid.uuid4()) for _ in range(3)]
    for n, buyer in enumerate(buyers):
        world.buy(buyer, 100 + n)
    world.clock.advance(days=1)
    world.adjustments.adjust("op-1", buyers[0], -30, "duplicate receipt", "support")
    world.buy(buyers[1], 50)
    world.clock.advance(days=2)
    mug = world.catalog.create(RewardSpec(kind="gift", name="Mug", points_cost=40), "marketer")
    world.rewards.redeem(buyers[2], mug.id, "r-1")
    world.clock.advance(days=1)
    world.buy(buyers[2], 20)
    first, last = START.date() - timedelta(days=1), world.clock.now.date()

    # A clock long ago leaves every day open: all counted live from the postings.
    live = Reports(world.database, world.policy, lambda: LONG_AGO).daily(first, last)
    assert kept_days(world) == 0
    assert sum(day.earned for day in live) == 100 + 101 + 102 + 50 + 20
    assert live[-2].rewards == 40 and live[2].adjusted == -30

    # The jobs close the last days before the open one.
    assert world.jobs.run().days_closed == JOB_DAYS
    reports = Reports(world.database, world.policy, world.clock)
    assert reports.daily(first, last) == live
    assert kept_days(world) == (last - first).days  # every day but today
    liability = reports.liability()
    assert live[-1].outstanding == liability.available + liability.pending + liability.held

    # Kept again, and by several processes at once: each day once, figures unchanged.
    assert DayFigures(world.database, world.clock).close(first, last - timedelta(days=1)) == 0
    with world.database.write() as session:
        session.execute(ClosedDay.__table__.delete().where(ClosedDay.day >= first))
    closers = [DayFigures(world.database, world.clock) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        added = list(pool.map(lambda c: c.close(first, last - timedelta(days=1)), closers))
    assert kept_days(world) == (last - first).days and sum(added) >= (last - first).days
    assert reports.daily(first, last) == live
    # A period starting later still knows what was owed before it.
    assert reports.daily(first + timedelta(days=2), last) == live[2:]
    assert reports.daily(first, first + timedelta(days=1)) == live[:2]
