"""The scale data generator writes books the suite accepts as its own: members it identifies
by phone and card, balances it serves, and a ledger its audit passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench import scale_data
from deploy.local import Suite
from tests.support import Pos, PostgresDatabases, postgres_reachable, start_suite, unavailable

MEMBERS, ENTRIES = 2_000, 20_000


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Suite]:
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    suite = start_suite(tmp_path, databases.urls)
    try:
        with psycopg.connect(databases.urls["identity"]) as conn:
            scale_data.write_members(conn, MEMBERS, suite.env["IDENTITY_PII_KEY"])
        with psycopg.connect(databases.urls["points"]) as conn:
            indexes = index_names(conn)
            assert scale_data.write_ledger(conn, MEMBERS, ENTRIES) == ENTRIES // 2
            assert index_names(conn) == indexes, "the ledger's indexes are all back"
        yield suite
    finally:
        suite.stop()
        databases.drop()


def index_names(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    return {name for (name,) in rows}


def test_generated_members_and_books_are_the_suites_own(generated: Suite) -> None:
    pos = Pos(generated)
    counts = scale_data.purchases_per_member(MEMBERS, ENTRIES // 2)
    assert counts.sum() == ENTRIES // 2
    assert counts[0] > 50 * counts[MEMBERS // 2], "activity is skewed towards a few members"

    for i in (0, 1, MEMBERS - 1):
        by_phone = pos.api.get("/v1/members/identify", params={"phone": scale_data.phone(i)})
        assert by_phone.status_code == 200, by_phone.text
        assert by_phone.json()["member_id"] == str(scale_data.member_id(i))
        by_card = pos.api.get("/v1/members/identify", params={"card": scale_data.card(i)})
        assert by_card.json()["member_id"] == str(scale_data.member_id(i))

    with psycopg.connect(generated.env["POINTS_DATABASE_URL"]) as conn:
        entries = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        top = conn.execute(
            "SELECT SUM(points_earned) FROM purchases WHERE member_id = %s",
            (scale_data.member_id(0),),
        ).fetchone()
    assert entries == (ENTRIES,)
    assert pos.balance(str(scale_data.member_id(0)))["available"] == top[0]

    # The generated books take new business like any other.
    member = str(scale_data.member_id(5))
    before = pos.balance(member)["available"]
    assert pos.purchase(member, amount="1250000").status_code == 201
    assert pos.balance(member)["available"] == before + 125

    check = generated.run_module("services.points", "check")
    assert check.returncode == 0, check.stdout
