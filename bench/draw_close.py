"""Closing a prize draw over 100,000 entries on PostgreSQL: summing each member's chances,
picking the winners from the seed and keeping the published entries must take under 5 s.

    python -m bench.draw_close [--entries 100000]

Builds its own throw-away database on the PostgreSQL at LOYALTY_BENCH_PG (default the
machine's `postgres@127.0.0.1:5432`), creates a draw with the real code, COPYs the chances
(some members holding several rows: a purchase's and bought ones), closes it with the real code
and re-runs the winners from the published entries, as the verify command does.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import timedelta

import psycopg

from bench.ledger_scale import create_database, drop_database
from services.campaigns.campaigns import Campaigns
from services.campaigns.draw_selection import Prize, verify
from services.campaigns.draws import ChanceRules, Draws
from services.campaigns.models import MIGRATIONS
from services.campaigns.segments import Segments
from services.runtime.cache import Cache
from services.runtime.db import Database, utcnow

LIMIT_SECONDS = 5.0
PRIZES = [Prize("car", 1), Prize("tablet", 10), Prize("gift card", 100)]


class _NoPoints:
    def change(self, operation_id: str, member_id: str, points: int, reason: str) -> None:
        raise AssertionError("no chances are bought in this bench")


def write_chances(plain_url: str, draw_id: str, entries: int, seed: int = 11) -> int:
    """COPYs chance rows for `entries` members; every fifth holds a second row. The rows."""
    rng = random.Random(seed)
    written = 0
    with psycopg.connect(plain_url) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY draw_chances (draw_id, member_id, source, chances) FROM STDIN"
            ) as copy,
        ):
            for index in range(entries):
                member = uuid.UUID(int=rng.getrandbits(128))
                copy.write_row((draw_id, member, f"purchase:{index}", rng.randint(1, 20)))
                written += 1
                if index % 5 == 0:
                    copy.write_row((draw_id, member, f"bought:{index}", rng.randint(1, 5)))
                    written += 1
        conn.execute("ANALYZE draw_chances")
        conn.commit()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    name, url = create_database()
    database = Database(url)
    try:
        database.migrate(MIGRATIONS, "campaigns")
        # A draw open to everyone: who may enter needs no cache.
        campaigns = Campaigns(
            database, Segments(database, "IRR"), Cache(None, "bench"), "IRR", "Asia/Tehran"
        )
        draws = Draws(database, _NoPoints(), campaigns)
        draw = draws.create(
            "bench draw", utcnow() + timedelta(days=1), PRIZES, ChanceRules(per_purchase=1)
        )
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        rows = write_chances(plain, draw.id, args.entries)
        started = time.perf_counter()
        closed = draws.close(draw.id)
        took = time.perf_counter() - started
        view, entries = draws.entries(draw.id)
        document = {
            "seed_sha256": view.seed_sha256,
            "prizes": [{"name": p.name, "count": p.count} for p in view.prizes],
            "entries": entries,
            "winners": closed.winners,
        }
        _, problems = verify(document, closed.seed)
    finally:
        database.dispose()
        drop_database(name)
    print()
    print(f"{'prize draw at scale (PostgreSQL)':<48} {'seconds':>9}  note")
    print(
        f"{f'close a draw over {len(entries):,} entries':<48} {took:>9.3f}"
        f"  {rows:,} chance rows, {len(closed.winners)} winners"
    )
    print(f"re-run from the published entries and seed: {problems or 'the same winners'}")
    verdict = "within" if took < LIMIT_SECONDS else "OVER"
    print(f"\nclosing took {took:.3f} s: {verdict} the {LIMIT_SECONDS:.0f} s limit")
    if took >= LIMIT_SECONDS or problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
