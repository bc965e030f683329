"""The campaigns service's own classes on a real database, reading a real points ledger's events,
with one clock the test moves."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.campaigns import projection
from services.campaigns.campaigns import Campaigns
from services.campaigns.draws import Draws
from services.campaigns.evaluation import ActiveCampaigns, Bonus, Evaluator, PurchaseFacts
from services.campaigns.feedback import FeedbackBook
from services.campaigns.feeds import MemberView
from services.campaigns.missions import Missions
from services.campaigns.models import MIGRATIONS, FeedCursor, Member, StageChange
from services.campaigns.reports import Reports
from services.campaigns.repository import live
from services.campaigns.rules import compile_rule
from services.campaigns.segments import Segments
from services.campaigns.settings import Lifecycle
from services.points.purchases import PurchaseInput, PurchaseItem
from services.runtime.cache import Cache
from services.runtime.cursors import encode
from services.runtime.db import Database
from services.runtime.event_feed import Feed, advance, locked_cursor
from services.runtime.outbox import Event
from tests.ledger_support import STORE, PointsWorld


class NoChancesBought:
    """Points, for draws whose chances only purchases earn."""

    def spend(self, operation_id: str, member_id: str, points: int, name: str) -> None:
        raise AssertionError("no chances are bought here")

    def give_back(self, spend_id: str, member_id: str, points: int, name: str) -> None:
        raise AssertionError("no chances are bought here")


class CampaignsWorld:
    def __init__(self, url: str, points: PointsWorld, rules: Lifecycle | None = None) -> None:
        self.points = points
        self.clock = points.clock
        self.rules = rules or Lifecycle()
        self.database = Database(url)
        self.database.migrate(MIGRATIONS, "campaigns")
        self.view = MemberView(
            self.database, [Feed("points", points.events)], self.rules, self.clock
        )
        self.feedback = FeedbackBook(self.database, self.rules, self.clock)
        self.segments = Segments(self.database, "IRR", self.clock)
        self.campaigns = Campaigns(
            self.database, self.segments, Cache(None, "test"), "IRR", "UTC", self.clock
        )
        self.active = ActiveCampaigns(self.database, self.campaigns, Cache(None, "test"), 0.0)
        self.evaluator = Evaluator(self.database, self.campaigns, self.active, "UTC", self.clock)
        self.reports = Reports(self.database, self.campaigns, self.clock)
        self._identity_events = 0

    def with_missions_and_draws(self) -> tuple[Missions, Draws]:
        """Missions and draws (chances earned by purchases only) kept with the member view, as
        the service runs them; no payer or dispatcher runs, so completions and messages stay
        pending until the test acts."""
        missions = Missions(self.database, self.campaigns, self.clock)
        draws = Draws(self.database, NoChancesBought(), self.campaigns, self.clock)
        self.view = MemberView(
            self.database, self.view.feeds, self.rules, self.clock, missions=missions, draws=draws
        )
        return missions, draws

    def identity(self, kind: str, member_id: str, payload: dict[str, Any]) -> None:
        """An identity event, as identity's feed delivers it, applied like any page."""
        self._identity_events += 1
        event = Event(self._identity_events, kind, member_id, payload, self.clock())
        with self.database.write() as session:
            cursor = locked_cursor(session, FeedCursor, "identity")
            projection.apply_page(session, [event], self.rules, self.clock())
            advance(cursor, [event], encode(self._identity_events), self.clock())

    def enrol(self, member_id: str | None = None, **profile: Any) -> str:
        member_id = member_id or str(uuid.uuid4())
        payload = {
            "store_id": STORE,
            "source": "pos",
            "first_name": "Sara",
            "city": "",
            "birth_date": "",
            "gender": "",
            "interests": [],
            "consents": {"sms": False, "email": False},
        }
        payload.update(profile)
        self.identity("member.enrolled", member_id, payload)
        return member_id

    def buy(
        self, member_id: str, points: int, categories: tuple[str, ...] = (), read: bool = True
    ) -> str:
        """A purchase earning `points` at the base rate, with one line per category; the member
        view then reads the ledger's events (unless not `read`)."""
        amount = points * self.points.policy.per_minor
        transaction = f"T-{uuid.uuid4().hex[:12]}"
        items = tuple(
            PurchaseItem("sku-" + c, c, "1", amount // len(categories)) for c in categories
        )
        self.points.purchases.record_purchase(
            PurchaseInput(STORE, transaction, member_id, amount, "IRR", items)
        )
        if read:
            self.catch_up()
        return transaction

    def refund(self, transaction_id: str, points: int) -> None:
        amount = points * self.points.policy.per_minor
        self.points.refunds.refund(STORE, transaction_id, f"RF-{uuid.uuid4().hex[:8]}", amount)
        self.catch_up()

    def catch_up(self) -> None:
        """Reads the ledger's new events. On PostgreSQL an event is handed out only once every
        older transaction on the server has ended, so it may take a moment to appear."""
        deadline = time.monotonic() + 120
        while not self.view.catch_up():
            assert time.monotonic() < deadline, "the ledger's events did not arrive"
            time.sleep(0.05)

    def member(self, member_id: str) -> Member:
        with self.database.read() as session:
            row = session.get(Member, uuid.UUID(member_id))
            assert row is not None
            return row

    def members_of(self, rule: Any) -> set[str]:
        """Who a rule selects now, read straight from the view (a preview shows marketers no
        small audience)."""
        condition = live(compile_rule(rule, "IRR", self.clock()))
        with self.database.read() as session:
            return {str(m) for m in session.scalars(select(Member.member_id).where(condition))}

    def stage(self, member_id: str) -> str:
        return self.member(member_id).stage

    def stage_changes(self, member_id: str) -> list[tuple[str, str]]:
        with self.database.read() as session:
            rows = session.query(StageChange).filter_by(member_id=uuid.UUID(member_id))
            return [(r.from_stage, r.to_stage) for r in rows.order_by(StageChange.id)]

    def evaluate(
        self,
        member_id: str,
        base_points: int = 100,
        transaction_id: str | None = None,
        recorded: bool = False,
        **extra,
    ) -> list[Bonus]:
        """What campaigns awards a purchase; the same member, amount and items make the same
        request (fingerprint)."""
        amount_minor = extra.pop("amount_minor", base_points * 10000 * 100)
        items = tuple(extra.pop("items", ()))
        occurred_at = extra.pop("occurred_at", None)
        request = repr((member_id, amount_minor, base_points, items, occurred_at))
        return self.evaluator.evaluate(
            PurchaseFacts(
                store_id=extra.pop("store_id", STORE),
                transaction_id=transaction_id or f"T-{uuid.uuid4().hex[:12]}",
                member_id=member_id,
                amount_minor=amount_minor,
                base_points=base_points,
                items=items,
                occurred_at=occurred_at,
                fingerprint=hashlib.sha256(request.encode()).hexdigest(),
                recorded=recorded,
            )
        )

    def launch(self, **definition: Any) -> str:
        definition.setdefault("name", "test campaign")
        definition.setdefault("targeting", {"everyone": True})
        view = self.campaigns.create(definition)
        self.campaigns.transition(str(view.id), "launch")
        return str(view.id)

    def launch_mission(self, purchases: int) -> uuid.UUID:
        """A monthly mission for everyone: `purchases` purchases, paid 100 points."""
        return uuid.UUID(
            self.launch(
                kind="mission",
                goal={"metric": "purchases", "target": purchases},
                period="month",
                reward_points=100,
            )
        )

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.database.dispose()
