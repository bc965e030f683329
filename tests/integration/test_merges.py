"""Merges that race each other and the tills: no point may end up on an id nobody reads."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import create_engine, update

from deploy.local import Suite
from services.identity.models import Merge
from services.points.audit import audit
from services.points.models import Balance
from services.runtime.errors import DomainError, FailedPrecondition
from tests.ledger_support import STORE, PointsWorld
from tests.support import Api, Pos, db_url, eventually, run_check, start_suite


def new_member() -> str:
    return str(uuid.uuid4())


def test_opposite_merges_at_the_same_moment_keep_every_point(world: PointsWorld) -> None:
    a, b = new_member(), new_member()
    world.buy(a, 500)
    world.buy(b, 300)

    def merge(pair: tuple[str, str]) -> str:
        survivor, duplicate = pair
        try:
            world.adjustments.merge(f"merge-{duplicate}", duplicate, survivor, "identity")
        except DomainError as refused:
            return refused.code
        return "merged"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(merge, [(a, b), (b, a)]))
    assert outcomes == ["already-merged", "merged"]
    # Whichever won, both ids read the one balance that holds all 800 points.
    assert world.points(a) == world.points(b) == (800, 0, 0, 0)


def test_a_reverse_or_chained_merge_follows_the_survivor(world: PointsWorld) -> None:
    a, b, c = new_member(), new_member(), new_member()
    world.buy(a, 10)
    world.buy(b, 20)
    world.buy(c, 30)
    world.adjustments.merge("merge-c", c, b, "identity")
    with pytest.raises(FailedPrecondition) as reverse:
        world.adjustments.merge("merge-b-into-c", b, c, "identity")
    assert reverse.value.code == "already-merged"
    world.adjustments.merge("merge-b", b, a, "identity")
    # c was merged into b, which is now a: a purchase for c lands on a.
    world.buy(c, 5)
    assert world.points(a) == world.points(b) == world.points(c) == (65, 0, 0, 0)


def test_purchases_racing_a_merge_land_on_the_survivor(world: PointsWorld) -> None:
    survivor, duplicate = new_member(), new_member()
    world.buy(survivor, 100)
    world.buy(duplicate, 50)

    def buy(i: int) -> int:
        if i == 20:
            world.adjustments.merge("merge-race", duplicate, survivor, "identity")
            return 0
        transaction = world.buy(duplicate, 1 + i % 7)
        return int(transaction != "")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(buy, range(40)))
    promised = 100 + 50 + sum(1 + i % 7 for i in range(40) if i != 20)
    assert world.points(survivor) == (promised, 0, 0, 0)
    assert world.points(duplicate) == world.points(survivor)
    # Holds and adjustments that name the duplicate afterwards act on the survivor too.
    world.redemptions.hold(STORE, "R-after-merge", duplicate, 10, capture=True)
    world.adjustments.adjust("ADJ-after-merge", duplicate, 3, "goodwill", "support:ali")
    assert world.points(survivor) == (promised - 7, 0, 0, 0)


def test_the_books_check_finds_points_left_on_a_merged_id(world: PointsWorld) -> None:
    survivor, duplicate = new_member(), new_member()
    world.buy(duplicate, 40)
    world.adjustments.merge("merge-plant", duplicate, survivor, "identity")
    with world.database.engine.connect() as connection:
        assert audit(connection) == []
        sqlite = connection.dialect.name == "sqlite"
        # Planted past the database's own refusal, as a faulty release or a hand edit might.
        if sqlite:
            connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        else:
            connection.exec_driver_sql("ALTER TABLE balances DROP CONSTRAINT merged_holds_nothing")
        balances = Balance.__table__
        planted = balances.c.member_id == uuid.UUID(duplicate)
        connection.execute(update(balances).where(planted).values(available=40))
        found = {finding.check: finding.examples for finding in audit(connection)}
        connection.rollback()
        if sqlite:
            connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
    [example] = found["points left on a merged member's id"]
    assert uuid.UUID(example) == uuid.UUID(duplicate)


def _merge(pos: Pos, survivor: str, duplicate: str) -> requests.Response:
    desk = pos.admin.with_token(pos.admin.token)  # a client of its own, for its own thread
    return desk.post(
        "/v1/support/members/merges", {"survivor_id": survivor, "duplicate_id": duplicate}
    )


def test_opposite_merges_asked_at_once_at_the_desk_keep_every_point(suite: Suite, pos: Pos) -> None:
    a, b = pos.enrol(), pos.enrol()
    assert pos.purchase(a["id"], amount="5000000").status_code == 201  # 500 points
    assert pos.purchase(b["id"], amount="3000000").status_code == 201  # 300 points

    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda pair: _merge(pos, *pair), [(a["id"], b["id"]), (b["id"], a["id"])])
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 200 and statuses[1] in (409, 422), [a.text for a in answers]
    [won] = [answer.json() for answer in answers if answer.status_code == 200]
    assert won["available_points"] == 800
    survivor = won["survivor"]["id"]
    for member in (a, b):
        balance = pos.balance(member["id"])
        assert (balance["member_id"], balance["available"]) == (survivor, 800)
    assert run_check(suite.env).returncode == 0


def test_purchases_racing_a_merge_at_six_tills_all_reach_the_survivor(
    suite: Suite, pos: Pos
) -> None:
    survivor, duplicate = pos.enrol(), pos.enrol()
    assert pos.purchase(survivor["id"], amount="1000000").status_code == 201  # 100 points
    tills = [pos.api.with_token(pos.api_key) for _ in range(6)]
    start = threading.Barrier(7)

    def sell(till: Api) -> list[requests.Response]:
        start.wait()
        return [
            till.post(
                "/v1/purchases",
                {
                    "transaction_id": f"T-{uuid.uuid4().hex[:12]}",
                    "member_id": duplicate["id"],
                    "amount": str(10000 * (1 + i % 5)),
                    "currency": "IRR",
                },
            )
            for i in range(12)
        ]

    with ThreadPoolExecutor(6) as pool:
        sales = [pool.submit(sell, till) for till in tills]
        start.wait()
        merged = _merge(pos, survivor["id"], duplicate["id"])
        answers = [answer for sale in sales for answer in sale.result()]
    assert merged.status_code == 200, merged.text
    assert all(answer.status_code == 201 for answer in answers), [a.text for a in answers]
    promised = 100 + sum(answer.json()["points_earned"] for answer in answers)
    assert promised > 100
    assert pos.balance(survivor["id"])["available"] == promised
    assert pos.balance(duplicate["id"])["available"] == promised
    assert run_check(suite.env).returncode == 0


def test_a_merge_left_started_blocks_others_and_is_carried_on_by_a_retry(
    suite: Suite, pos: Pos
) -> None:
    a, b, c = pos.enrol(), pos.enrol(), pos.enrol()
    assert pos.purchase(b["id"], amount="2000000").status_code == 201  # 200 points
    plant_started_merge(suite, a["id"], b["id"], datetime.now(UTC))

    for survivor, duplicate in ((b["id"], a["id"]), (c["id"], b["id"]), (b["id"], c["id"])):
        refused = _merge(pos, survivor, duplicate)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "merge-in-progress"
    assert pos.balance(b["id"])["member_id"] == b["id"]  # nothing moved

    finished = _merge(pos, a["id"], b["id"])
    assert finished.status_code == 200, finished.text
    assert finished.json()["available_points"] == 200
    assert pos.balance(b["id"])["member_id"] == a["id"]
    export = pos.admin.get(f"/v1/support/members/{a['id']}/export").json()
    [audit] = export["identity"]["merges"]
    assert audit["actor"] == "support:someone"  # who asked first


def plant_started_merge(suite: Suite, survivor: str, duplicate: str, at: datetime) -> None:
    """A merge as identity records it before the points move, as if it died right then."""
    engine = create_engine(db_url(suite, "identity"))
    with engine.begin() as connection:
        connection.execute(
            Merge.__table__.insert(),
            {
                "duplicate_id": uuid.UUID(duplicate),
                "survivor_id": uuid.UUID(survivor),
                "actor": "support:someone",
                "merged_at": at,
                "status": "started",
            },
        )
    engine.dispose()


@pytest.fixture(scope="module")
def repairing_suite(
    tmp_path_factory: pytest.TempPathFactory, redis_available: None
) -> Iterator[Suite]:
    """A suite whose identity looks for stalled merges every second."""
    suite = start_suite(
        tmp_path_factory.mktemp("repairing-suite"), IDENTITY_MERGE_REPAIR_INTERVAL="1"
    )
    yield suite
    suite.stop()


def test_identity_finishes_a_merge_a_crash_left_started(repairing_suite: Suite) -> None:
    pos = Pos(repairing_suite)
    survivor, duplicate = pos.enrol(), pos.enrol()
    assert pos.purchase(duplicate["id"], amount="700000").status_code == 201  # 70 points
    plant_started_merge(
        repairing_suite, survivor["id"], duplicate["id"], datetime.now(UTC) - timedelta(minutes=2)
    )
    assert eventually(lambda: pos.balance(duplicate["id"])["member_id"] == survivor["id"], 30)
    assert pos.balance(survivor["id"])["available"] == 70
    found = pos.api.get("/v1/members/identify", params={"card": duplicate["card_number"]})
    assert found.json()["member_id"] == survivor["id"]
    assert run_check(repairing_suite.env).returncode == 0
