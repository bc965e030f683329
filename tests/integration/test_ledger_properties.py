"""Random sequences of ledger operations (earn, hold, capture, void, refund, transfer, manual
adjustment, time passing with the jobs), each sent twice at the same moment as a retrying till
would, must keep the books right after every step: debits equal credits, no bucket goes
negative, balances equal a replay of their entries, and no hold is resolved twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from services.points.policy import Expiry, PointsPolicy
from services.runtime.errors import DomainError
from tests.ledger_support import STORE, PointsWorld, sqlite_url

POLICY = PointsPolicy(
    currency="IRR",
    per_minor=10000 * 100,
    pending=timedelta(days=7),
    expiry=Expiry("days", 30),
    hold_for=timedelta(days=2),
)


def twice_at_once(operation: Callable[[], Any]) -> Any:
    """Runs `operation` twice concurrently; both copies must end the same way."""

    def attempt() -> tuple[str, Any]:
        try:
            return "ok", operation()
        except DomainError as error:
            return "refused", error.code

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: attempt(), range(2))
    assert first == second, f"two copies of one request ended differently: {first} / {second}"
    return first


def machine_for(url: str) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        members = Bundle("members")
        purchases = Bundle("purchases")
        holds = Bundle("holds")

        def __init__(self) -> None:
            super().__init__()
            self.world = PointsWorld(url, POLICY)
            self.amounts: dict[str, int] = {}

        def teardown(self) -> None:
            self.world.close()

        @rule(target=members, opening=st.integers(0, 300))
        def enrol(self, opening: int) -> str:
            """A member, most often with points already available to spend."""
            member = str(uuid.uuid4())
            if opening:
                self.world.buy(member, opening)
                self.world.clock.advance(days=8)
                self.world.jobs.run()
            return member

        @rule(target=purchases, member=members, points=st.integers(20, 400))
        def earn(self, member: str, points: int) -> str:
            transaction_id = f"T-{uuid.uuid4().hex[:12]}"
            outcome = twice_at_once(lambda: self.world.buy(member, points, transaction_id))
            assert outcome[0] == "ok"
            self.amounts[transaction_id] = points * POLICY.per_minor
            return transaction_id

        @rule(target=holds, member=members, points=st.integers(1, 150), capture=st.booleans())
        def hold(self, member: str, points: int, capture: bool) -> Any:
            redemption_id = f"R-{uuid.uuid4().hex[:12]}"
            outcome = twice_at_once(
                lambda: self.world.redemptions.hold(STORE, redemption_id, member, points, capture)
            )
            if outcome == ("refused", "insufficient-points"):
                return multiple()
            assert outcome[0] == "ok"
            return redemption_id

        @rule(redemption=holds)
        def capture(self, redemption: str) -> None:
            outcome = twice_at_once(lambda: self.world.redemptions.capture(STORE, redemption))
            assert outcome[0] == "ok" or outcome[1] in ("redemption-voided", "redemption-expired")

        @rule(redemption=holds)
        def void(self, redemption: str) -> None:
            outcome = twice_at_once(lambda: self.world.redemptions.void(STORE, redemption))
            assert outcome[0] == "ok" or outcome[1] == "redemption-captured"

        @rule(purchase=purchases, percent=st.integers(1, 100))
        def refund(self, purchase: str, percent: int) -> None:
            amount = max(self.amounts[purchase] * percent // 100, 1)
            refund_id = f"RF-{uuid.uuid4().hex[:12]}"
            outcome = twice_at_once(
                lambda: self.world.refunds.refund(STORE, purchase, refund_id, amount)
            )
            assert outcome[0] == "ok" or outcome[1] == "refund-exceeds-purchase"

        @rule(giver=members, receiver=members, points=st.integers(1, 150))
        def transfer(self, giver: str, receiver: str, points: int) -> None:
            operation_id = f"TR-{uuid.uuid4().hex[:12]}"
            outcome = twice_at_once(
                lambda: self.world.adjustments.transfer(
                    operation_id, giver, receiver, points, "gift", "test"
                )
            )
            expected = ("same-member",) if giver == receiver else ("insufficient-points",)
            assert outcome[0] == "ok" or outcome[1] in expected

        @rule(member=members, points=st.integers(-100, 200).filter(bool))
        def adjust(self, member: str, points: int) -> None:
            operation_id = f"ADJ-{uuid.uuid4().hex[:12]}"
            outcome = twice_at_once(
                lambda: self.world.adjustments.adjust(operation_id, member, points, "fix", "test")
            )
            assert outcome[0] == "ok" or outcome[1] == "insufficient-points"

        @rule(hours=st.integers(1, 24 * 20))
        def time_passes(self, hours: int) -> None:
            """Two job runners at once split the work: together they move what one would."""
            self.world.clock.advance(hours=hours)
            with ThreadPoolExecutor(max_workers=2) as pool:
                reports = list(pool.map(lambda _: self.world.jobs.run(), range(2)))
            assert all(report.activated >= 0 and report.expired >= 0 for report in reports)

        @invariant()
        def books_balance(self) -> None:
            self.world.check_books()

    return LedgerMachine


RUN = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.postgres
def test_random_operations_with_concurrent_duplicates_keep_the_books_on_postgresql(
    ledger_pg_url: str,
) -> None:
    machine = machine_for(ledger_pg_url)
    machine.TestCase.settings = RUN
    machine.TestCase().runTest()


def test_random_operations_with_concurrent_duplicates_keep_the_books_on_sqlite(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    machine = machine_for(sqlite_url(tmp_path_factory.mktemp("ledger-properties")))
    machine.TestCase.settings = RUN
    machine.TestCase().runTest()
