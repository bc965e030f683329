"""A member with years of purchases behind them (tens of thousands of lots): locking their
balance for a purchase stays a few index reads under the generic plan PostgreSQL caches for a
prepared statement after a few runs. Reading every lot of such a member held their balance lock
for tens of milliseconds on each purchase, and their next purchases queued behind it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql

from services.points import repository
from tests.ledger_support import PointsWorld
from tests.support import PostgresDatabases, postgres_reachable, unavailable

LOTS = 20_000


@pytest.fixture
def heavy() -> Iterator[tuple[PointsWorld, str, str]]:
    """A points database (its own) of a club whose points never expire, with one member of LOTS
    lots among others; the member, and the URL for psycopg."""
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    url = databases.urls["points"]
    world = PointsWorld(url.replace("postgresql://", "postgresql+psycopg://"))
    member = str(uuid.uuid4())
    world.buy(member, 10)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO lots (member_id, status, points, remaining, available_at, expires_at,"
            " source, created_at)"
            " SELECT %s, 'available', 1, 1, %s, NULL, 'purchase', %s"
            " FROM generate_series(1, %s) i",
            (member, world.clock.now, world.clock.now, LOTS),
        )
        # And a club around them: 4,000 members of five lots each, the newest still pending.
        conn.execute(
            "INSERT INTO lots (member_id, status, points, remaining, available_at, expires_at,"
            " source, created_at)"
            " SELECT md5((i / 5)::text)::uuid, CASE WHEN i %% 5 = 0 THEN 'pending'"
            " ELSE 'available' END, 1, 1, %s, NULL, 'purchase', %s"
            " FROM generate_series(1, 20000) i",
            (world.clock.now, world.clock.now),
        )
        conn.execute("ANALYZE")
    yield world, member, url
    world.close()
    databases.drop()


def lot_rows_read(url: str, statement: Executable, params: dict) -> int:
    """Rows of `lots` the statement reads (kept or filtered out) under a generic plan."""
    expanded = statement.compile(dialect=postgresql.psycopg.dialect()).construct_expanded_state(
        params
    )
    values = expanded.parameters
    order: list[str] = []

    def positional(found: re.Match[str]) -> str:
        if found[1] not in order:
            order.append(found[1])
        return f"${order.index(found[1]) + 1}"

    text = re.sub(r"%\((\w+)\)s", positional, expanded.statement)
    with psycopg.connect(url) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        # At a million members PostgreSQL walks one index rather than OR two bitmaps; on this
        # small table it would OR the bitmaps and hide a condition no single index can answer.
        conn.execute("SET enable_bitmapscan = off")
        conn.execute(f"PREPARE heavy AS {text}")
        arguments = sql.SQL(", ").join(sql.Literal(values[name]) for name in order)
        explain = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE heavy({})").format(arguments)
        plan = conn.execute(explain).fetchone()[0][0]["Plan"]  # type: ignore[index]
        conn.rollback()
    return _lot_rows(plan)


def _lot_rows(node: dict) -> int:
    rows = 0
    if node.get("Relation Name") == "lots":
        read = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        rows += read * node["Actual Loops"]
    return rows + sum(_lot_rows(child) for child in node.get("Plans", []))


def test_a_purchase_locks_a_heavy_members_balance_without_reading_their_lots(heavy) -> None:
    world, member, url = heavy
    params = {"members": [uuid.UUID(member)], "now": world.clock.now}
    assert lot_rows_read(url, repository._LOCK_BALANCES, params) < 10
