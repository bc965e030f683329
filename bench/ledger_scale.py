"""Ledger at scale, on PostgreSQL: the expiry job over a million lots, and what a balance read
costs for a member with 10 entries against one with 100,000.

    python -m bench.ledger_scale [--lots 1000000] [--members 100000]

Builds its own throw-away database on the PostgreSQL at LOYALTY_BENCH_PG (default the
machine's `postgres@127.0.0.1:5432`), generates consistent books with set-based SQL, runs the
real job code, checks the books afterwards and prints a table.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import text

from services.points.audit import audit
from services.points.balances import Balances
from services.points.jobs import Jobs
from services.points.policy import PointsPolicy
from services.points.server import MIGRATIONS
from services.runtime.config import Env
from services.runtime.db import Database

ADMIN_URL = Env().str("LOYALTY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2027, 6, 1, tzinfo=UTC)


def create_database() -> tuple[str, str]:
    name = f"loyalty_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_expired_lots(database: Database, lots: int, members: int) -> None:
    """`lots` lots of 10 points, spread evenly over `members`, all past their expiry; one
    opening posting credits them, so the books balance before the job runs."""
    per_member = lots // members
    with database.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO postings (id, kind, reason, source_type, source_id, created_at)"
                " VALUES (1, 'earn', 'bench opening', 'system', 'bench', :t)"
            ),
            {"t": NOW - timedelta(days=400)},
        )
        c.execute(
            text(
                "INSERT INTO lots (member_id, status, points, remaining, available_at,"
                " expires_at, source, created_at)"
                " SELECT md5((i % :m)::text)::uuid, 'available', 10, 10, :earned,"
                " :expired + (i % 1000) * interval '1 minute', 'bench', :earned"
                " FROM generate_series(0, :n - 1) AS i"
            ),
            {
                "m": members,
                "n": lots,
                "earned": NOW - timedelta(days=400),
                "expired": NOW - timedelta(days=30),
            },
        )
        c.execute(
            text(
                "INSERT INTO entries (posting_id, account, member_id, bucket, amount)"
                " SELECT 1, 'member', md5(i::text)::uuid, 'available', 10 * :per"
                " FROM generate_series(0, :m - 1) AS i"
            ),
            {"m": members, "per": per_member},
        )
        c.execute(
            text(
                "INSERT INTO entries (posting_id, account, member_id, bucket, amount)"
                " VALUES (1, 'program:earned', NULL, NULL, -10 * :n)"
            ),
            {"n": lots},
        )
        c.execute(
            text(
                "INSERT INTO balances (member_id, available, pending, held, debt)"
                " SELECT md5(i::text)::uuid, 10 * :per, 0, 0, 0"
                " FROM generate_series(0, :m - 1) AS i"
            ),
            {"m": members, "per": per_member},
        )
        c.execute(text("SELECT setval('postings_id_seq', 1)"))
        c.execute(text("ANALYZE"))


def seed_history(database: Database, member: uuid.UUID, entries: int) -> None:
    """A member with `entries` purchases over the last year, each with its earn entry and lot,
    for the read benchmark."""
    with database.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO purchases (id, store_id, transaction_id, member_id, amount_minor,"
                " currency, occurred_at, request_hash, campaigns_evaluated, points_earned,"
                " refunded_minor, points_reversed, result, created_at)"
                " SELECT md5(CAST(:m AS text) || i)::uuid, :m, 'T-' || i, :m, 1000000, 'IRR',"
                " :t - (i % 365) * interval '1 day', '', true, 1, 0, 0, '{}', :t"
                " FROM generate_series(1, :n) AS i"
            ),
            {"n": entries, "m": member, "t": NOW},
        )
        c.execute(
            text(
                "INSERT INTO spend_days (member_id, day, amount_minor)"
                " SELECT member_id, date(occurred_at), SUM(amount_minor) FROM purchases"
                " WHERE member_id = :m GROUP BY member_id, date(occurred_at)"
            ),
            {"m": member},
        )
        c.execute(
            text(
                "WITH p AS (INSERT INTO postings (kind, reason, source_type, source_id, created_at)"
                " SELECT 'earn', 'purchase', 'pos', 'T-' || i, :t"
                " FROM generate_series(1, :n) AS i RETURNING id)"
                " INSERT INTO entries (posting_id, account, member_id, bucket, amount)"
                " SELECT id, 'member', :m, 'available', 1 FROM p"
                " UNION ALL SELECT id, 'program:earned', NULL, NULL, -1 FROM p"
            ),
            {"n": entries, "m": member, "t": NOW},
        )
        c.execute(
            text(
                "INSERT INTO lots (member_id, status, points, remaining, available_at,"
                " expires_at, source, created_at)"
                " SELECT :m, 'available', 1, 1, :t, NULL, 'bench', :t"
                " FROM generate_series(1, :n)"
            ),
            {"n": entries, "m": member, "t": NOW},
        )
        c.execute(
            text(
                "INSERT INTO balances (member_id, available, pending, held, debt)"
                " VALUES (:m, :n, 0, 0, 0)"
            ),
            {"n": entries, "m": member},
        )
        c.execute(text("ANALYZE"))


def median_ms(read, runs: int = 300) -> float:  # type: ignore[no-untyped-def]
    for _ in range(20):
        read()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def check_books(database: Database) -> None:
    with database.engine.connect() as c:
        findings = audit(c)
        left = c.execute(
            text("SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE expires_at <= :n"),
            {"n": NOW},
        ).scalar_one()
    assert findings == [], findings
    assert left == 0, "expired lots still hold points"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    args = parser.parse_args()
    name, url = create_database()
    database = Database(url)
    try:
        database.migrate(MIGRATIONS, "points")
        started = time.perf_counter()
        seed_expired_lots(database, args.lots, args.members)
        seeded = time.perf_counter() - started

        jobs = Jobs(database, PointsPolicy.from_env(Env({})), clock=lambda: NOW)
        started = time.perf_counter()
        report = jobs.run()
        expiry_seconds = time.perf_counter() - started
        assert report.expired == 10 * args.lots, report
        check_books(database)

        balances = Balances(database, PointsPolicy.from_env(Env({})), clock=lambda: NOW)
        small, large = uuid.uuid4(), uuid.uuid4()
        seed_history(database, small, 10)
        seed_history(database, large, 100_000)
        small_ms = median_ms(lambda: balances.points(str(small)))
        large_ms = median_ms(lambda: balances.points(str(large)))
        small_page = median_ms(lambda: balances.history(str(small), 50, ""))
        large_page = median_ms(lambda: balances.history(str(large), 50, ""))
        _, cursor = balances.history(str(large), 50, "")
        deep_page = median_ms(lambda: balances.history(str(large), 50, cursor))
    finally:
        database.dispose()
        drop_database(name)

    print()
    print("| measure | figure |")
    print("|---|---|")
    print(f"| seeding {args.lots:,} expired lots over {args.members:,} members | {seeded:.1f} s |")
    print(
        f"| expiry job over {args.lots:,} lots (points expired: {report.expired:,}) "
        f"| **{expiry_seconds:.1f} s** ({args.lots / expiry_seconds:,.0f} lots/s) |"
    )
    print(f"| balance read (uncached), 10 purchases (median) | {small_ms:.3f} ms |")
    print(f"| balance read (uncached), 100,000 purchases (median) | {large_ms:.3f} ms |")
    print(f"| ratio 100,000 / 10 entries | {large_ms / small_ms:.2f} |")
    pages = f"{small_page:.3f} / {large_page:.3f} ms"
    print(f"| first ledger page (50), 10 / 100,000 entries | {pages} |")
    print(f"| second ledger page by cursor, 100,000 entries | {deep_page:.3f} ms |")


if __name__ == "__main__":
    main()
