"""Campaigns' business rules in-process: definitions, transitions, segment rules and feedback,
on a SQLite database of their own where one is needed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from loyalty.campaigns.v1 import campaigns_pb2
from services.campaigns import definitions, repository
from services.campaigns.campaigns import Campaigns, allowed_actions
from services.campaigns.feedback import FeedbackBook
from services.campaigns.models import MIGRATIONS, Member
from services.campaigns.projection import bucket_of, with_categories
from services.campaigns.rules import compile_rule
from services.campaigns.segments import Segments
from services.campaigns.settings import Lifecycle
from services.runtime.cache import Cache
from services.runtime.db import Database
from services.runtime.errors import Conflict, FailedPrecondition, InvalidArgument

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVERYONE = {"everyone": True}


def parse(**body: Any) -> definitions.Definition:
    return definitions.parse({"name": "test", "targeting": EVERYONE, **body}, "IRR", "UTC")


def refused(**body: Any) -> str:
    with pytest.raises(InvalidArgument) as raised:
        parse(**body)
    assert raised.value.code == "invalid-campaign"
    return raised.value.detail


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/campaigns.db")
    database.migrate(MIGRATIONS, "campaigns")
    yield database
    database.dispose()


def add_member(database: Database, **columns: Any) -> uuid.UUID:
    member_id = uuid.uuid4()
    row = {
        "member_id": member_id,
        "bucket": bucket_of(member_id),
        "consent_sms": False,
        "consent_email": False,
        "tier": "member",
        "points": 0,
        "purchase_count": 0,
        "total_spend_minor": 0,
        "refund_count": 0,
        "refunded_minor": 0,
        "stage": "potential",
        "rfm_r": 0,
        "rfm_f": 0,
        "rfm_m": 0,
        "erased": False,
        **columns,
    }
    with database.write() as session:
        repository.insert_members(session, [row])
    return member_id


def test_the_kinds_a_definition_takes_are_the_ones_the_proto_lists() -> None:
    listed = [
        value.name.removeprefix("CAMPAIGN_KIND_").lower()
        for value in campaigns_pb2.CampaignKind.DESCRIPTOR.values
        if value.number
    ]
    for kind in listed:
        assert kind in definitions.KINDS
    detail = refused(kind="jackpot", points=5)
    assert detail == f"kind: must be one of {', '.join(listed)}"


@pytest.mark.parametrize(
    ("body", "culprit"),
    [
        ({"kind": "multiplier"}, "multiplier:"),
        ({"kind": "multiplier", "multiplier": 1}, "multiplier:"),
        ({"kind": "fixed_bonus"}, "points:"),
        ({"kind": "spend_threshold", "points": 5}, "min_spend:"),
        ({"kind": "category_bonus", "multiplier": 2}, "categories:"),
        ({"kind": "offer"}, "offer:"),
        (
            {"kind": "birthday", "points": 5, "schedule": {"hours": {"from": "25:00", "to": "1"}}},
            "schedule.hours.from:",
        ),
        (
            {"kind": "win_back", "points": 5, "targeting": {"stages": ["bored"]}},
            "targeting.stages[0]:",
        ),
        ({"kind": "coupon"}, "coupon:"),
        ({"kind": "coupon", "coupon": {"type": "free", "value": "1"}}, "coupon.type:"),
        ({"kind": "coupon", "coupon": {"type": "percent", "value": "120"}}, "coupon.value:"),
        ({"kind": "coupon", "coupon": {"type": "percent", "value": "0"}}, "coupon.value:"),
        ({"kind": "coupon", "coupon": {"type": "amount", "value": "lots"}}, "coupon.value:"),
        (
            {"kind": "coupon", "coupon": {"type": "amount", "value": "5000", "valid_days": 0}},
            "coupon.valid_days:",
        ),
        (
            {"kind": "coupon", "coupon": {"type": "percent", "value": "5", "code": "X"}},
            "coupon.code:",
        ),
    ],
)
def test_a_definition_missing_what_its_kind_needs_is_refused_with_the_path(
    body: dict, culprit: str
) -> None:
    assert refused(**body).startswith(culprit)


def test_a_coupon_campaign_keeps_its_coupon_in_minor_units() -> None:
    # IRR is counted in hundredths (ISO 4217), as every amount in the ledger.
    body = {
        "name": "Come back",
        "kind": "coupon",
        "targeting": {"stages": ["lapsed"]},
        "coupon": {"type": "percent", "value": "۲۰", "max_discount": "500000", "valid_days": 14},
    }
    coupon = definitions.parse(body, "IRR", "UTC").coupon
    assert coupon == definitions.CouponTerms("percent", Decimal(20), 50_000_000, 0, 14)
    body["coupon"] = {"type": "amount", "value": "50000", "min_purchase": "200000"}
    coupon = definitions.parse(body, "IRR", "UTC").coupon
    assert coupon == definitions.CouponTerms("amount", Decimal(5_000_000), 0, 20_000_000, 30)


def test_each_kind_takes_the_fields_it_needs() -> None:
    assert parse(kind="multiplier", multiplier="1.5").multiplier == 1.5
    assert parse(kind="spend_threshold", points=7, min_spend="100000").min_spend_minor == 10000000
    bonus = parse(kind="category_bonus", multiplier=2, categories=["Dairy"])
    assert bonus.categories == ("dairy",)
    assert parse(kind="offer", offer={"title": "Free coffee"}).offer is not None


def test_what_each_status_allows_next() -> None:
    assert allowed_actions("draft") == ("launch", "end")
    assert allowed_actions("scheduled") == ("pause", "end")
    assert allowed_actions("active") == ("pause", "end")
    assert allowed_actions("paused") == ("launch", "end")
    assert allowed_actions("ended") == ()


def test_a_draft_can_be_ended_and_an_ended_campaign_cannot_be_launched(
    database: Database,
) -> None:
    campaigns = Campaigns(
        database, Segments(database, "IRR"), Cache(None, "test"), "IRR", "UTC", lambda: NOW
    )
    draft = campaigns.create(
        {"name": "x", "kind": "fixed_bonus", "points": 1, "targeting": EVERYONE}
    )
    assert (draft.status, draft.actions, draft.deletable) == ("draft", ("launch", "end"), True)
    ended = campaigns.transition(str(draft.id), "end")
    assert (ended.status, ended.actions, ended.deletable) == ("ended", (), False)
    with pytest.raises(Conflict) as raised:
        campaigns.transition(str(draft.id), "launch")
    assert raised.value.code == "campaign-ended"
    with pytest.raises(Conflict):
        campaigns.delete(str(draft.id))


def test_a_rule_selects_in_the_database_exactly_the_members_it_names(database: Database) -> None:
    lapsed_in_tehran = add_member(
        database,
        city="tehran",
        stage="lapsed",
        purchase_count=4,
        last_purchase_at=NOW - timedelta(days=200),
        categories=with_categories(None, ["Dairy"]),
    )
    add_member(database, city="tehran", stage="loyal", purchase_count=9)
    add_member(database, city="shiraz", stage="lapsed", purchase_count=4)
    add_member(database, city="tehran", stage="lapsed", erased=True)
    rule = {
        "and": [
            {"attr": "city", "op": "eq", "value": "tehran"},
            {"attr": "stage", "op": "in", "value": ["lapsed"]},
            {"attr": "days_since_last_purchase", "op": "gte", "value": 180},
            {"attr": "categories", "op": "any_of", "value": ["dairy"]},
        ]
    }
    condition = compile_rule(rule, "IRR", NOW)
    with database.read() as session:
        assert repository.member_ids(session, repository.live(condition)) == [lapsed_in_tehran]
    with pytest.raises(InvalidArgument) as raised:
        compile_rule({"or": [rule, {"attr": "points", "op": "gt", "value": 2**63}]}, "IRR", NOW)
    assert raised.value.detail.startswith("rule.or[1].value")


def test_feedback_is_kept_once_and_its_id_is_not_reused(database: Database) -> None:
    book = FeedbackBook(database, Lifecycle(), lambda: NOW)
    member = str(add_member(database, purchase_count=1, last_purchase_at=NOW))
    assert book.submit("F-1", member, 1, "cold coffee") == "dissatisfied"
    assert book.submit("F-1", member, 1, "cold coffee") == "dissatisfied"
    with pytest.raises(FailedPrecondition) as raised:
        book.submit("F-1", member, 5, "cold coffee")
    assert raised.value.code == "idempotency-mismatch"
    with database.read() as session:
        stored = repository.member(session, uuid.UUID(member))
        assert isinstance(stored, Member)
        assert stored.last_rating == 1
        assert len(repository.all_feedback(session)) == 1
