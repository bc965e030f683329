"""Synthetic club data at scale on PostgreSQL: a million members, ten million ledger entries.

    python -m bench.scale_data --identity URL --points URL [--members 1000000]
        [--entries 10000000] [--pii-key KEY]

Members are numbered 0..n-1 and everything about member i follows from i, so any part of the
suite, or a benchmark, can find member i again without asking: `member_id(i)`, `phone(i)`
(`0935` and i in seven digits, an Iranian mobile number a till would type) and `card(i)`.
Activity is skewed like a real club's: member i makes purchases in proportion to
1/(i+1)^ZIPF_S, so a few members buy constantly and most rarely.

- `synthetic_members(count)` yields the members' profiles (no database needed): for anyone who
  needs a population, e.g. a segment preview benchmark filling its own tables.
- `write_members(conn, count, pii_key)` COPYs them into the identity database.
- `write_ledger(conn, members, entries)` writes consistent books into the points database:
  one purchase, one earn posting (two entries) and one lot per purchase, balances and daily
  spend to match, so `python -m services.points check` passes.

Both writers expect migrated, empty databases.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from services.identity.identifiers import luhn_check_digit

ZIPF_S = 1.0
NOW = datetime(2026, 11, 1, tzinfo=UTC)
CITIES = ["Tehran", "Mashhad", "Isfahan", "Karaj", "Shiraz", "Tabriz", "Qom", "Ahvaz", "Rasht"]
FIRST_NAMES = ["Sara", "Ali", "Maryam", "Reza", "Zahra", "Mohammad", "Fatemeh", "Hossein", "Neda"]
LAST_NAMES = ["Ahmadi", "Hosseini", "Karimi", "Rahimi", "Moradi", "Jafari", "Rezaei", "Kazemi"]
GENDERS = ["female", "male", ""]
LEDGER_TABLES = ("purchases", "postings", "entries", "lots", "balances", "spend_days", "members")
INTERESTS = ["dairy", "bakery", "produce", "household", "beauty", "toys", "electronics"]


def member_id(i: int) -> uuid.UUID:
    """Member i's id; the same as PostgreSQL's `md5('member-' || i)::uuid`."""
    return uuid.UUID(hashlib.md5(f"member-{i}".encode()).hexdigest())


def phone(i: int) -> str:
    """Member i's phone as a till types it."""
    return f"0935{i:07d}"


def card(i: int) -> str:
    """Member i's 16-digit card number, with its Luhn check digit."""
    body = f"7{i:014d}"
    return body + luhn_check_digit(body)


@dataclass(frozen=True)
class SyntheticMember:
    index: int
    id: uuid.UUID
    phone_e164: str
    card_number: str
    first_name: str
    last_name: str
    gender: str
    birth_date: date | None
    city: str
    interests: tuple[str, ...]
    consents: dict[str, bool]
    enrolled_at: datetime


def synthetic_members(count: int, seed: int = 7) -> Iterator[SyntheticMember]:
    """`count` member profiles, the same for the same seed."""
    rng = random.Random(seed)
    for i in range(count):
        born = None
        if rng.random() < 0.8:
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        yield SyntheticMember(
            index=i,
            id=member_id(i),
            phone_e164=f"+98935{i:07d}",
            card_number=card(i),
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            gender=rng.choice(GENDERS),
            birth_date=born,
            city=rng.choice(CITIES),
            interests=tuple(rng.sample(INTERESTS, rng.randrange(4))),
            consents={"sms": rng.random() < 0.7, "email": rng.random() < 0.4},
            enrolled_at=NOW - timedelta(days=rng.randrange(3 * 365), seconds=rng.randrange(86400)),
        )


def write_members(
    conn: psycopg.Connection, count: int, pii_key: str, store_id: uuid.UUID | None = None
) -> None:
    """COPYs `count` synthetic members and their consents into the identity database; phones
    are hashed under `pii_key`, the identity service's IDENTITY_PII_KEY, so that identifying a
    member by phone works."""
    key = pii_key.encode()
    with conn.cursor() as cur:
        with cur.copy(
            "COPY members (id, card_number, phone_hash, phone, first_name, last_name,"
            " birth_date, city, enrolled_store_id, created_at, updated_at) FROM STDIN"
        ) as copy:
            for m in synthetic_members(count):
                digest = hmac.new(key, f"phone:{m.phone_e164}".encode(), hashlib.sha256)
                copy.write_row(
                    (
                        m.id,
                        m.card_number,
                        digest.hexdigest(),
                        m.phone_e164,
                        m.first_name,
                        m.last_name,
                        m.birth_date,
                        m.city,
                        store_id,
                        m.enrolled_at,
                        m.enrolled_at,
                    )
                )
        with cur.copy(
            "COPY consents (member_id, channel, granted, source, updated_at) FROM STDIN"
        ) as copy:
            for m in synthetic_members(count):
                for channel, granted in m.consents.items():
                    copy.write_row((m.id, channel, granted, "pos", m.enrolled_at))
        cur.execute("ANALYZE members")
        cur.execute("ANALYZE consents")
    conn.commit()


def purchases_per_member(members: int, purchases: int) -> np.ndarray:
    """How many purchases each member made: `purchases` in all, member i's share in
    proportion to 1/(i+1)^ZIPF_S."""
    weights = 1.0 / np.arange(1, members + 1, dtype=np.float64) ** ZIPF_S
    counts = np.floor(weights / weights.sum() * purchases).astype(np.int64)
    counts[: purchases - int(counts.sum())] += 1
    return counts


def write_ledger(conn: psycopg.Connection, members: int, entries: int) -> int:
    """Writes `entries` ledger entries (entries/2 purchases, each posted as one earn posting of
    two entries) over `members` synthetic members; returns the purchases written."""
    purchases = entries // 2
    counts = purchases_per_member(members, purchases)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    store = uuid.UUID(int=0)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE activity (member_index int, first bigint, n int) ON COMMIT DROP"
        )
        with cur.copy("COPY activity (member_index, first, n) FROM STDIN") as copy:
            for i in np.flatnonzero(counts):
                copy.write_row((int(i), int(offsets[i]), int(counts[i])))
        # Purchase number s of the whole run: member, points (1-50, so 10,000-500,000 IRR) and
        # a time within the last year.
        cur.execute(
            "CREATE TEMP TABLE gen ON COMMIT DROP AS"
            " SELECT a.first + g AS s, md5('member-' || a.member_index)::uuid AS member_id,"
            " ((a.first + g) * 7919 %% 50 + 1)::bigint AS points,"
            " %(now)s - ((a.first + g) %% 365) * interval '1 day'"
            "   - ((a.first + g) %% 86400) * interval '1 second' AS t"
            " FROM activity a, generate_series(0, a.n - 1) AS g",
            {"now": NOW},
        )
        # Indexes are built faster once, sorted, than row by row: drop those that are not
        # constraints for the load and build them again after, in the same transaction.
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (list(LEDGER_TABLES),),
        )
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute(
            "INSERT INTO purchases (id, store_id, transaction_id, member_id, amount_minor,"
            " currency, occurred_at, request_hash, campaigns_evaluated, points_earned,"
            " refunded_minor, points_reversed, result, created_at)"
            " SELECT md5('purchase-' || s)::uuid, %(store)s, 'S-' || s, member_id,"
            " points * 10000, 'IRR', t, '', true, points, 0, 0, '{}', t FROM gen",
            {"store": store},
        )
        cur.execute(
            "INSERT INTO postings (id, kind, reason, source_type, source_id, created_at)"
            " SELECT s + 1, 'earn', 'purchase', 'pos', 'S-' || s, t FROM gen"
        )
        cur.execute(
            "INSERT INTO entries (posting_id, account, member_id, bucket, amount)"
            " SELECT s + 1, 'member', member_id, 'available', points FROM gen"
            " UNION ALL SELECT s + 1, 'program:earned', NULL, NULL, -points FROM gen"
        )
        cur.execute(
            "INSERT INTO lots (member_id, status, points, remaining, available_at, expires_at,"
            " source, created_at)"
            " SELECT member_id, 'available', points, points, t, NULL, 'purchase', t FROM gen"
        )
        cur.execute(
            "INSERT INTO balances (member_id, available, pending, held, debt)"
            " SELECT member_id, SUM(points), 0, 0, 0 FROM gen GROUP BY member_id"
        )
        # Points knows every member, as it would from identity's enrolment events.
        cur.execute(
            "INSERT INTO members (member_id, status, learned_at)"
            " SELECT md5('member-' || i)::uuid, 'member', %(now)s"
            " FROM generate_series(0, %(members)s - 1) AS i",
            {"now": NOW, "members": members},
        )
        cur.execute(
            "INSERT INTO spend_days (member_id, day, amount_minor)"
            " SELECT member_id, date(t AT TIME ZONE 'UTC'), SUM(points * 10000) FROM gen"
            " GROUP BY member_id, date(t AT TIME ZONE 'UTC')"
        )
        cur.execute("SELECT setval('postings_id_seq', (SELECT COALESCE(MAX(id), 1) FROM postings))")
        for _, definition in indexes:
            cur.execute(definition)
    conn.commit()
    with conn.cursor() as cur:
        for table in LEDGER_TABLES:
            cur.execute(f"ANALYZE {table}")
    conn.commit()
    return purchases


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_data")
    parser.add_argument("--identity", required=True, help="the identity database's URL")
    parser.add_argument("--points", required=True, help="the points database's URL")
    parser.add_argument("--pii-key", required=True, help="the identity service's PII key")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    with psycopg.connect(args.identity) as conn:
        write_members(conn, args.members, args.pii_key)
    with psycopg.connect(args.points) as conn:
        write_ledger(conn, args.members, args.entries)
    print(
        f"{args.members:,} members and {args.entries:,} ledger entries"
        f" in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
