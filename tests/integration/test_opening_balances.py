"""Imported members' opening balances in points' own classes, on SQLite and PostgreSQL: posted
once per member whatever a later file says, a debt paid first, a tier granted, a bad row
refused alone, a dry run writing nothing, and the books right."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from services.points.openings import OpeningBalances, OpeningRow
from services.points.tiers import Tier, TierLadder
from tests.ledger_support import STORE, PointsWorld


def openings(world: PointsWorld) -> OpeningBalances:
    return OpeningBalances(world.database, world.policy, world.clock)


def test_an_opening_balance_is_posted_once_and_spendable_at_once(world: PointsWorld) -> None:
    ladder = TierLadder((Tier("member", 0, Decimal(1)), Tier("silver", 10**9, Decimal(1))))
    url = world.database.engine.url.render_as_string(hide_password=False)
    world = PointsWorld(url, replace(world.policy, ladder=ladder))
    opening = openings(world)
    sara, reza = str(uuid.uuid4()), str(uuid.uuid4())
    expires = world.clock() + timedelta(days=90)
    first = opening.run(
        [
            OpeningRow(2, sara, 1500, expires, "silver"),
            OpeningRow(3, reza, 250),
            OpeningRow(4, sara, 99),  # the same member again in the batch: opened once
        ]
    )
    assert [r.outcome for r in first] == ["posted", "posted", "existing"]
    assert world.points(sara) == (1500, 0, 0, 0)
    assert world.balances.points(sara).expiring == ((expires, 1500),)
    assert world.balances.points(sara).tier.name == "silver"
    # Points never asked identity: the import told it who the members are.
    world.redemptions.hold(STORE, f"R-open-{uuid.uuid4().hex[:8]}", sara, 1200, capture=True)
    assert world.identity.asked == []
    assert world.points(sara) == (300, 0, 0, 0)

    again = opening.run([OpeningRow(2, sara, 9000), OpeningRow(3, reza, 250)])
    assert [r.outcome for r in again] == ["existing", "existing"]
    assert world.points(sara)[0] == 300 and world.points(reza)[0] == 250
    world.check_books()
    world.close()


def test_an_opening_balance_pays_a_debt_first(world: PointsWorld) -> None:
    member = str(uuid.uuid4())
    purchase = world.buy(member, 100)
    tag = uuid.uuid4().hex[:8]  # the PostgreSQL ledger is shared by the session's tests
    world.redemptions.hold(STORE, f"R-debt-{tag}", member, 100, capture=True)
    world.refunds.refund(STORE, purchase, f"RF-debt-{tag}", 100 * world.policy.per_minor)
    assert world.points(member) == (0, 0, 0, 100)
    (result,) = openings(world).run([OpeningRow(2, member, 160)])
    assert result.outcome == "posted"
    assert world.points(member) == (60, 0, 0, 0)
    world.check_books()


def test_a_bad_row_is_refused_alone_and_a_dry_run_writes_nothing(world: PointsWorld) -> None:
    opening = openings(world)
    good, other = str(uuid.uuid4()), str(uuid.uuid4())
    past = world.clock() - timedelta(days=1)
    results = opening.run(
        [
            OpeningRow(2, "not-an-id", 10),
            OpeningRow(3, good, 10, tier="platinum"),
            OpeningRow(4, good, 10, past),
            OpeningRow(5, good, 10),
        ],
        dry_run=True,
    )
    assert [(r.line, r.outcome, r.error_code) for r in results] == [
        (2, "rejected", "invalid-member-id"),
        (3, "rejected", "unknown-tier"),
        (4, "rejected", "expiry-passed"),
        (5, "posted", ""),
    ]
    assert world.points(good) == (0, 0, 0, 0)
    (posted,) = opening.run([OpeningRow(5, good, 10)])
    assert posted.outcome == "posted" and world.points(good)[0] == 10
    assert opening.run([OpeningRow(6, other, -1)])[0].error_code == "invalid-points"
    world.check_books()
