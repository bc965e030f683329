"""Rewards at scale, on PostgreSQL: redemption throughput and latency among a million members,
and a pool of 1,000 partner codes handed out to 1,000 members at once.

    python -m bench.rewards_scale [--members 1000000] [--redemptions 3000] [--threads 8]

Builds its own throw-away database on the PostgreSQL at LOYALTY_BENCH_PG (as
bench/ledger_scale.py), gives every member points in one set-based opening posting, then runs
the points service's own redemption code (the transaction a `POST /v1/me/rewards/{id}/
redemptions` runs, without HTTP and gRPC) from several threads, each redemption for a member
drawn at random. It checks the books and that every code went to one member, and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import text

from bench.ledger_scale import create_database, drop_database
from services.points.audit import audit
from services.points.catalog import Catalog, RewardSpec
from services.points.coupon_terms import Terms
from services.points.coupons import Coupons
from services.points.members import IdentityAnswer, Members
from services.points.policy import PointsPolicy
from services.points.rewards import Rewards
from services.points.server import MIGRATIONS
from services.runtime.config import Env
from services.runtime.db import Database

POINTS_EACH = 1000
COST = 10
CODES = 1000


class NoIdentity:
    """Every member is in points' own table: identity is never asked."""

    def lookup(self, member_id: uuid.UUID) -> IdentityAnswer | None:
        raise AssertionError("a seeded member was looked up")


class NoAudiences:
    def match(
        self, member_id: uuid.UUID, segment_ids: set[str], stages: set[str]
    ) -> tuple[set[str], set[str]]:
        return set(), set()


def seed_members(database: Database, members: int) -> None:
    """`members` known members with POINTS_EACH available points each, in one lot each."""
    now = datetime.now(UTC)
    with database.engine.begin() as c:
        member = "md5('m' || i::text)::uuid"
        series = "FROM generate_series(0, :m - 1) AS i"
        c.execute(
            text(
                "INSERT INTO postings (id, kind, reason, source_type, source_id, created_at)"
                " VALUES (1, 'earn', 'bench opening', 'system', 'bench', :t)"
            ),
            {"t": now},
        )
        c.execute(
            text(
                "INSERT INTO members (member_id, status, learned_at)"
                f" SELECT {member}, 'member', :t {series}"
            ),
            {"m": members, "t": now},
        )
        c.execute(
            text(
                "INSERT INTO lots (member_id, status, points, remaining, available_at,"
                f" expires_at, source, created_at) SELECT {member}, 'available', :p, :p, :t,"
                f" NULL, 'bench', :t {series}"
            ),
            {"m": members, "p": POINTS_EACH, "t": now},
        )
        c.execute(
            text(
                "INSERT INTO entries (posting_id, account, member_id, bucket, amount)"
                f" SELECT 1, 'member', {member}, 'available', :p {series}"
            ),
            {"m": members, "p": POINTS_EACH},
        )
        c.execute(
            text(
                "INSERT INTO entries (posting_id, account, member_id, bucket, amount)"
                " VALUES (1, 'program:earned', NULL, NULL, -CAST(:p AS BIGINT) * :m)"
            ),
            {"m": members, "p": POINTS_EACH},
        )
        c.execute(
            text(
                "INSERT INTO balances (member_id, available, pending, held, debt)"
                f" SELECT {member}, :p, 0, 0, 0 {series}"
            ),
            {"m": members, "p": POINTS_EACH},
        )
        c.execute(text("SELECT setval('postings_id_seq', 1)"))
        c.execute(text("ANALYZE"))


def member_id(n: int) -> str:
    """The id seed_members gave its nth member."""
    return str(uuid.UUID(hashlib.md5(f"m{n}".encode()).hexdigest()))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rewards_scale")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--redemptions", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--codes", type=int, default=CODES, help="partner codes and takers")
    args = parser.parse_args()
    name, url = create_database()
    database = Database(url, pool_size=args.threads + 2)
    try:
        database.migrate(MIGRATIONS, "points")
        started = time.perf_counter()
        seed_members(database, args.members)
        seeded = time.perf_counter() - started
        policy = PointsPolicy.from_env(Env({}))
        members = Members(database, NoIdentity())
        coupons = Coupons(database, policy, members)
        catalog = Catalog(database, policy, members, NoAudiences())
        rewards = Rewards(database, policy, members, catalog, coupons)
        terms = Terms(type="percent", currency="IRR", percent="10")
        coupon = catalog.create(
            RewardSpec(kind="coupon", name="bench", points_cost=COST, terms=terms), "bench"
        ).id
        rng = random.Random(7)
        chosen = [member_id(rng.randrange(args.members)) for _ in range(args.redemptions)]

        def redeem(member: str) -> float:
            began = time.perf_counter()
            rewards.redeem(member, coupon, f"bench-{uuid.uuid4().hex}")
            return (time.perf_counter() - began) * 1000

        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            latencies = sorted(pool.map(redeem, chosen))
        elapsed = time.perf_counter() - started

        partner = catalog.create(
            RewardSpec(kind="partner_code", name="partner", points_cost=1), "bench"
        ).id
        pool_codes = [f"BENCH{n:05d}" for n in range(args.codes)]
        catalog.add_codes(partner, pool_codes)
        takers = [member_id(n) for n in range(args.codes)]
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            handed = list(pool.map(lambda m: rewards.redeem(m, partner, "bench-partner"), takers))
        codes_seconds = time.perf_counter() - started
        distinct = len({r.coupon.partner_code for r in handed})
        with database.engine.connect() as c:
            findings = audit(c)
        assert distinct == args.codes, f"{distinct} different codes for {args.codes} members"
        assert findings == [], findings

        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
        print()
        print("| measure | figure |")
        print("|---|---|")
        print(f"| seeding {args.members:,} members with points | {seeded:.1f} s |")
        print(
            f"| redemptions, {args.threads} threads, {args.redemptions:,} members at random"
            f" | {args.redemptions / elapsed:.0f} /s |"
        )
        print(
            f"| redemption latency p50 / p99 | {statistics.median(latencies):.1f} ms /"
            f" {p99:.1f} ms |"
        )
        print(
            f"| {args.codes:,} partner codes to {args.codes:,} members at once (16 threads)"
            f" | {distinct:,} different codes in {codes_seconds:.1f} s |"
        )
        print("| books after | balance |")
    finally:
        database.dispose()
        drop_database(name)


if __name__ == "__main__":
    main()
