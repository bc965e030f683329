"""Points tells other services what happened, through events read in a commit-safe order."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import Connection, RootTransaction, text

from services.points.models import OutboxEvent
from services.runtime import outbox
from services.runtime.errors import FailedPrecondition, InvalidArgument
from tests.ledger_support import STORE, PointsWorld


def all_events(world: PointsWorld, cursor: str = "") -> tuple[list[outbox.Event], str]:
    seen: list[outbox.Event] = []
    while True:
        page, cursor_next = world.events(cursor, 3)
        seen += page
        if not page:
            return seen, cursor_next
        cursor = cursor_next


def events_of(
    world: PointsWorld, cursor: str, member: str, count: int
) -> tuple[list[outbox.Event], str]:
    """Events after `cursor` once `count` of the member's are out. On PostgreSQL an event is
    handed out only when every older transaction on the server has ended (so that one which
    commits late is never skipped): a transaction left open elsewhere delays it."""
    events: list[outbox.Event] = []
    deadline = time.monotonic() + 60
    while True:
        page, cursor = all_events(world, cursor)
        events += page
        if sum(e.member_id == member for e in events) >= count or time.monotonic() > deadline:
            return events, cursor
        time.sleep(0.1)


def test_purchases_points_and_refunds_become_events_in_order(world: PointsWorld) -> None:
    _, start = all_events(world)
    m = str(uuid.uuid4())
    purchase = world.buy(m, 100)
    world.redemptions.hold(STORE, "R-ev", m, 30, capture=True)
    world.refunds.refund(STORE, purchase, "RF-ev", 50 * world.policy.per_minor)

    events, end = events_of(world, start, m, 6)
    mine = [(e.type, e.payload.get("changes")) for e in events if e.member_id == m]
    assert mine == [
        ("points.earn", {"available": 100}),
        ("purchase.recorded", None),
        ("points.hold", {"available": -30, "held": 30}),
        ("points.redeem", {"held": -30}),
        ("points.refund", {"available": -50}),
        ("purchase.refunded", None),
    ]
    recorded = next(e for e in events if e.type == "purchase.recorded" and e.member_id == m)
    assert recorded.payload["amount_minor"] == 100 * world.policy.per_minor
    assert all_events(world, end)[0] == []  # nothing more after the cursor


def test_a_failed_change_leaves_no_event(world: PointsWorld) -> None:
    _, start = all_events(world)
    m = str(uuid.uuid4())
    with pytest.raises(FailedPrecondition):
        world.redemptions.hold(STORE, "R-none", m, 10, capture=False)
    events, _ = all_events(world, start)
    assert [e for e in events if e.member_id == m] == []


@pytest.mark.postgres
def open_transaction(world: PointsWorld) -> tuple[Connection, RootTransaction, int]:
    """A transaction of the points database with its transaction id taken, left open."""
    connection = world.database.engine.connect()
    transaction = connection.begin()
    txid = connection.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
    return connection, transaction, txid


def write_event(connection: Connection, txid: int, kind: str) -> None:
    """An event of `kind` in the outbox, as a transaction with id `txid` writes one."""
    connection.execute(
        text(
            "INSERT INTO outbox (txid, type, member_id, payload, occurred_at)"
            " VALUES (:t, :kind, NULL, '{}', now())"
        ),
        {"t": txid, "kind": kind},
    )


def test_an_event_committed_late_is_not_skipped(ledger_pg_url: str) -> None:
    """Transaction A takes its sequence number first but commits after B. A reader that paged
    by sequence alone would move past A's number while A is still running, and miss it."""
    world = PointsWorld(ledger_pg_url)
    try:
        _, cursor = all_events(world)
        slow, slow_tx, slow_txid = open_transaction(world)
        write_event(slow, slow_txid, "test.slow")
        fast = threading.Thread(target=world.buy, args=(str(uuid.uuid4()), 10))
        fast.start()
        fast.join()

        seen, cursor = all_events(world, cursor)
        assert [e.type for e in seen] == []  # B waits behind A, which may still commit
        slow_tx.commit()
        slow.close()
        # Both show once no transaction older than A runs anywhere on the server, which on a
        # shared server may take a moment more.
        deadline = time.monotonic() + 30
        types: list[str] = []
        while "purchase.recorded" not in types and time.monotonic() < deadline:
            seen, cursor = all_events(world, cursor)
            types += [e.type for e in seen]
            time.sleep(0.2)
        assert types[0] == "test.slow"
        assert "purchase.recorded" in types
    finally:
        world.close()


def test_the_head_is_the_last_event_a_consumer_reads(ledger_pg_url: str) -> None:
    """Transaction A starts first but writes its event after B has committed one: consumers read
    A's event before B's, though A's sequence is the larger. The head a consumer is measured
    against is B's, or a consumer that has read everything would look behind for ever."""
    world = PointsWorld(ledger_pg_url)
    try:
        _, cursor = all_events(world)
        slow, slow_tx, slow_txid = open_transaction(world)
        fast = threading.Thread(target=world.buy, args=(str(uuid.uuid4()), 10))
        fast.start()
        fast.join()
        write_event(slow, slow_txid, "test.late")
        slow_tx.commit()
        slow.close()

        deadline = time.monotonic() + 30
        seen: list[outbox.Event] = []
        while "purchase.recorded" not in [e.type for e in seen] and time.monotonic() < deadline:
            page, cursor = all_events(world, cursor)
            seen += page
            time.sleep(0.2)
        assert [e.type for e in seen] == ["test.late", "points.earn", "purchase.recorded"]
        assert seen[-1].sequence < seen[0].sequence
        with world.database.read() as session:
            assert outbox.head(session, OutboxEvent) == seen[-1].sequence
    finally:
        world.close()


def test_a_bad_cursor_is_refused(world: PointsWorld) -> None:
    with pytest.raises(InvalidArgument) as refused:
        world.events("not-a-cursor!", 10)
    assert refused.value.code == "invalid-cursor"
