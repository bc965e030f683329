"""Segments over a million members, on PostgreSQL: how long a preview (size and sample) takes,
and the set-based passes over the whole member view (stages, RFM).

    python -m bench.member_view_scale [--members 1000000]

Builds its own throw-away database on the PostgreSQL at LOYALTY_BENCH_PG (default the
machine's `postgres@127.0.0.1:5432`), fills the campaigns member view by COPY with the synthetic
club of `bench.scale_data` (`write_member_view`), runs the real segment code and prints a
table. A preview must answer in under 2 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator

import psycopg

from bench.ledger_scale import create_database, drop_database
from bench.scale_data import NOW, purchases_per_member, synthetic_members
from services.campaigns import lifecycle
from services.campaigns.models import MIGRATIONS
from services.campaigns.projection import bucket_of, with_categories
from services.campaigns.segments import Segments
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database

CATEGORIES = ["dairy", "bakery", "produce", "household", "beauty", "toys", "electronics"]
TIERS = ["member"] * 8 + ["silver"] * 3 + ["gold"]
LIMIT_SECONDS = 2.0

MEMBER_COLUMNS = (
    "member_id, bucket, enrolled_at, first_name, city, birth_date, birth_month, gender,"
    " consent_sms, consent_email, tier, points, purchase_count, total_spend_minor,"
    " first_purchase_at, last_purchase_at, refund_count, refunded_minor, last_refund_at,"
    " last_rating, last_feedback_at, stage, rfm_r, rfm_f, rfm_m, erased, categories"
)

RULES = {
    "one city": {"attr": "city", "op": "eq", "value": "tehran"},
    "dissatisfied": {"attr": "stage", "op": "eq", "value": "dissatisfied"},
    "lapsing big spenders": {
        "and": [
            {"attr": "days_since_last_purchase", "op": "between", "value": [60, 365]},
            {"attr": "total_spend", "op": "gte", "value": "5000000"},
            {"attr": "consent_sms", "op": "eq", "value": True},
        ]
    },
    "nested, with categories": {
        "or": [
            {
                "and": [
                    {"attr": "city", "op": "in", "value": ["tehran", "karaj"]},
                    {"attr": "categories", "op": "any_of", "value": ["dairy", "bakery"]},
                    {"not": {"attr": "stage", "op": "in", "value": ["lapsed", "potential"]}},
                ]
            },
            {
                "and": [
                    {"attr": "birthday_month", "op": "eq", "value": 11},
                    {"attr": "rfm_m", "op": "gte", "value": 4},
                ]
            },
        ]
    },
}


def synthetic_rows(count: int, seed: int = 7) -> Iterator[tuple]:
    """The member view of the club `bench.scale_data` describes: its members' profiles and
    consents, their skewed purchase counts, and from those spend, recency, categories,
    ratings and a stage."""
    rng = random.Random(seed)
    counts = purchases_per_member(count, count * 5)
    for member in synthetic_members(count, seed):
        purchases = int(counts[member.index])
        spend = purchases * rng.randrange(100_000, 5_000_000) * 100
        last = member.enrolled_at + (NOW - member.enrolled_at) * rng.random() if purchases else None
        rating = rng.choice([None, None, None, 1, 2, 3, 4, 5])
        refunded = purchases > 0 and rng.random() < 0.05
        stage = (
            "potential"
            if not purchases
            else rng.choice(["customer", "customer", "loyal", "satisfied", "lapsed"])
        )
        if rating is not None and rating <= 2 and purchases:
            stage = "dissatisfied"
        bought = rng.sample(CATEGORIES, k=min(purchases, rng.randrange(1, 4))) if purchases else []
        born = member.birth_date
        yield (
            member.id,
            bucket_of(member.id),
            member.enrolled_at,
            member.first_name,
            member.city.lower(),
            born,
            born.month if born else None,
            member.gender,
            member.consents["sms"],
            member.consents["email"],
            rng.choice(TIERS),
            rng.randrange(0, 5000),
            purchases,
            spend,
            member.enrolled_at if purchases else None,
            last,
            1 if refunded else 0,
            spend // 10 if refunded else 0,
            last if refunded else None,
            rating,
            last if rating is not None else None,
            stage,
            0,
            0,
            0,
            False,
            with_categories("", bought),
        )


def write_member_view(conn: psycopg.Connection, count: int) -> None:
    """COPYs `count` synthetic members into a migrated, empty member view."""
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY members ({MEMBER_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in synthetic_rows(count):
            copy.write_row(row)
    conn.commit()


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args()
    name, url = create_database()
    database = Database(url)
    try:
        database.migrate(MIGRATIONS, "campaigns")
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain) as conn:
            seeded = timed(lambda: write_member_view(conn, args.members))
            conn.execute("ANALYZE")
        rows = [(f"write {args.members:,} members by COPY", seeded, "")]
        with database.write() as session:
            rows.append(
                ("RFM quintiles, every member", timed(lambda: lifecycle.refresh_rfm(session)), "")
            )
        with database.write() as session:
            moved: list[int] = []
            took = timed(lambda: moved.append(lifecycle.refresh_stages(session, Lifecycle(), NOW)))
            rows.append(("lifecycle stages, every member", took, f"{moved[0]:,} changed"))
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("ANALYZE")
        segments = Segments(database, "IRR", clock=lambda: NOW)
        slowest = 0.0
        for label, rule in RULES.items():
            segments.preview(rule=rule)  # warm the cache, as a marketer's second look would
            times, shown = [], ""
            for _ in range(3):
                result: list = []
                times.append(timed(lambda r=rule, out=result: out.append(segments.preview(rule=r))))
                size, fewer_than = result[0].size, result[0].fewer_than
                shown = f"fewer than {fewer_than}" if size is None else f"{size:,}"
            median = statistics.median(times)
            slowest = max(slowest, median)
            rows.append((f"preview: {label}", median, f"{shown} members"))
    finally:
        database.dispose()
        drop_database(name)
    print()
    print(f"{'member view at scale (PostgreSQL)':<48} {'seconds':>9}  note")
    for label, seconds, note in rows:
        print(f"{label:<48} {seconds:>9.3f}  {note}")
    verdict = "within" if slowest < LIMIT_SECONDS else "OVER"
    print(f"\nslowest segment preview {slowest:.3f} s: {verdict} the {LIMIT_SECONDS:.0f} s limit")
    if slowest >= LIMIT_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
