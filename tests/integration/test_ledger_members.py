"""Points decides itself which members may earn and spend, from what identity says: its event
feed for the members it has seen, one question to identity for a member it has not."""

from __future__ import annotations

import uuid

import grpc
import pytest

from deploy.local import Suite
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.points.v1 import points_pb2 as pb
from loyalty.points.v1 import points_pb2_grpc
from services.points.members import learn_members
from services.runtime.errors import ERROR_CODE_METADATA_KEY, FailedPrecondition
from services.runtime.outbox import Event
from tests.ledger_support import PointsWorld
from tests.support import Pos, eventually, metrics_of, service_channel


def points_stub(suite: Suite) -> points_pb2_grpc.PointsServiceStub:
    return points_pb2_grpc.PointsServiceStub(service_channel(suite, "points"))


def record(stub: points_pb2_grpc.PointsServiceStub, store: str, member_id: str):
    return stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            store_id=store,
            transaction_id=f"T-{uuid.uuid4().hex[:12]}",
            member_id=member_id,
            amount=common_pb2.Money(amount_minor=1_000_000 * 100, currency="IRR"),
        ),
        timeout=10,
    )


def refusal(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as refused:
        call()
    error = refused.value
    code = dict(error.trailing_metadata() or ()).get(ERROR_CODE_METADATA_KEY, "")
    return error.code(), code


def get_member_calls(suite: Suite) -> float:
    return sum(
        value
        for (name, labels), value in metrics_of(suite, "identity").items()
        if name == "loyalty_grpc_server_handled_total"
        and dict(labels).get("method", "").endswith("GetMember")
    )


def test_points_refuses_unknown_and_erased_members_and_credits_a_duplicates_survivor(
    suite: Suite, pos: Pos
) -> None:
    stub = points_stub(suite)
    status, code = refusal(lambda: record(stub, pos.store_id, str(uuid.uuid4())))
    assert (status, code) == (grpc.StatusCode.FAILED_PRECONDITION, "unknown-member")

    survivor, duplicate = pos.enrol(), pos.enrol()
    merged = pos.admin.post(
        "/v1/support/members/merges",
        {"survivor_id": survivor["id"], "duplicate_id": duplicate["id"]},
    )
    assert merged.status_code == 200, merged.text
    bought = record(stub, pos.store_id, duplicate["id"])
    assert (bought.member_id, bought.points_earned) == (survivor["id"], 100)
    assert pos.balance(survivor["id"])["available"] == 100
    balance = stub.GetBalance(pb.GetBalanceRequest(member_id=duplicate["id"]), timeout=10)
    assert (balance.member_id, balance.balance.available) == (survivor["id"], 100)
    ledger = stub.ListLedger(pb.ListLedgerRequest(member_id=duplicate["id"]), timeout=10)
    assert [entry.points for entry in ledger.entries] == [100]

    erased = pos.enrol()
    assert pos.admin.post(f"/v1/support/members/{erased['id']}/erasure").status_code == 200
    status, code = refusal(lambda: record(stub, pos.store_id, erased["id"]))
    assert (status, code) == (grpc.StatusCode.FAILED_PRECONDITION, "member-erased")
    hold = pb.HoldPointsRequest(
        store_id=pos.store_id, redemption_id="R-erased", member_id=erased["id"], points=1
    )
    status, code = refusal(lambda: stub.HoldPoints(hold, timeout=10))
    assert (status, code) == (grpc.StatusCode.FAILED_PRECONDITION, "member-erased")


def _enrolled_sequence(suite: Suite, member_id: str) -> int:
    """The sequence of the member's `member.enrolled` event in identity's feed. On PostgreSQL the
    feed shows an event only once every transaction older than it has ended, in any database of
    the server (another test's open transaction too), so this reads on until it appears."""
    identity = identity_pb2_grpc.IdentityServiceStub(service_channel(suite, "identity"))
    cursor = ""
    found: list[int] = []

    def read_on() -> bool:
        nonlocal cursor
        while True:
            page = identity.ListEvents(
                common_pb2.ListEventsRequest(cursor=cursor, limit=1000), timeout=10
            )
            for event in page.events:
                if event.member_id == member_id and event.type == "member.enrolled":
                    found.append(event.sequence)
                    return True
            if not page.events:
                return False
            cursor = page.next_cursor

    assert eventually(read_on, within=60), "the enrolment never reached identity's events"
    return found[0]


def _points_has_read(suite: Suite, sequence: int) -> bool:
    position = metrics_of(suite, "points").get(
        (
            "loyalty_consumer_last_sequence",
            frozenset({("consumer", "points"), ("source", "identity")}),
        ),
        0,
    )
    return position >= sequence


def test_points_learns_members_from_identitys_events_and_asks_about_one_only_once(
    sqlite_suite: Suite,
) -> None:
    pos = Pos(sqlite_suite)
    stub = points_stub(sqlite_suite)
    seen = pos.enrol()
    sequence = _enrolled_sequence(sqlite_suite, seen["id"])
    assert eventually(lambda: _points_has_read(sqlite_suite, sequence), 10)
    asked = get_member_calls(sqlite_suite)
    assert record(stub, pos.store_id, seen["id"]).points_earned == 100
    assert get_member_calls(sqlite_suite) == asked

    # An id identity does not know: points asks it.
    status, _ = refusal(lambda: record(stub, pos.store_id, str(uuid.uuid4())))
    assert status == grpc.StatusCode.FAILED_PRECONDITION
    assert get_member_calls(sqlite_suite) == asked + 1


def test_a_member_asked_about_once_is_remembered(world: PointsWorld) -> None:
    member = str(uuid.uuid4())
    world.buy(member, 10)
    world.buy(member, 10)
    assert world.identity.asked == [uuid.UUID(member)]


def test_the_feed_makes_a_duplicate_earn_for_its_survivor_and_refuses_the_erased(
    world: PointsWorld,
) -> None:
    survivor, duplicate, erased = (str(uuid.uuid4()) for _ in range(3))
    now = world.clock()
    page = [
        Event(1, "member.enrolled", survivor, {}, now),
        Event(2, "member.enrolled", duplicate, {}, now),
        Event(3, "member.enrolled", erased, {}, now),
        Event(4, "member.profile_changed", survivor, {"city": "Tabriz"}, now),
        Event(5, "member.merged", duplicate, {"survivor_id": survivor}, now),
        Event(6, "member.erased", erased, {}, now),
    ]
    with world.database.write() as session:
        learn_members(session, page, now)

    world.buy(duplicate, 40)
    assert world.points(survivor) == (40, 0, 0, 0)
    with pytest.raises(FailedPrecondition) as refused:
        world.buy(erased, 40)
    assert refused.value.code == "member-erased"
    with pytest.raises(FailedPrecondition) as refused:
        world.adjustments.adjust("A-erased", erased, 5, "goodwill", "support:sara")
    assert refused.value.code == "member-erased"
    assert world.identity.asked == []


def test_a_member_identity_does_not_know_is_refused_and_not_remembered(world: PointsWorld) -> None:
    stranger = uuid.uuid4()
    world.identity.unknown.add(stranger)
    for _ in range(2):
        with pytest.raises(FailedPrecondition) as refused:
            world.buy(str(stranger), 10)
        assert refused.value.code == "unknown-member"
    assert world.identity.asked == [stranger, stranger]
    giver = str(uuid.uuid4())
    world.buy(giver, 10)
    with pytest.raises(FailedPrecondition) as refused:
        world.adjustments.transfer("TR-x", giver, str(stranger), 5, "gift", "support:sara")
    assert refused.value.code == "unknown-member"
    assert world.points(giver) == (10, 0, 0, 0)
