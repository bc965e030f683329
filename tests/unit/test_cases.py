"""Cases in campaigns over SQLite: an open complaint makes the member dissatisfied at once, a
resolved one no longer does, a case is recorded once per id, and segments can use them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.campaigns import repository
from services.campaigns.cases import CaseBook
from services.campaigns.rules import compile_rule
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database
from services.runtime.errors import FailedPrecondition, InvalidArgument
from tests.unit.test_campaign_rules import NOW, add_member, database  # noqa: F401


class Outbox:
    """Where the follow-up request would go: identity's SendMessage, outside these classes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, message_id: str, member_id: str, channel: str, body: str) -> str:
        self.sent.append((message_id, member_id))
        return "sent"


def stage(database: Database, member: str) -> str | None:  # noqa: F811
    with database.read() as session:
        return repository.member_stage(session, uuid.UUID(member))


def complaint(book: CaseBook, member: str, case_id: str = "C-1", category: str = "Delivery"):
    return book.open(case_id, member, "complaint", "phone", category, "late again", "staff:a")


def test_an_open_complaint_makes_a_member_dissatisfied_until_it_is_resolved(
    database: Database,  # noqa: F811
) -> None:
    outbox = Outbox()
    minutes = iter(range(100))
    book = CaseBook(database, Lifecycle(), outbox, lambda: NOW + timedelta(minutes=next(minutes)))
    member = str(add_member(database, purchase_count=1, last_purchase_at=NOW))
    newcomer = str(add_member(database))
    complaint(book, newcomer, "C-2")
    book.open("Q-1", member, "question", "store", "opening hours", "open on Friday?", "staff:a")
    assert stage(database, member) == "customer"
    complaint(book, member)
    assert stage(database, member) == "dissatisfied"
    # Before a first purchase too.
    assert stage(database, newcomer) == "dissatisfied"
    rule = compile_rule({"attr": "open_complaints", "op": "gte", "value": 1}, "IRR", NOW)
    with database.read() as session:
        found = repository.member_ids(session, repository.live(rule))
    assert {str(m) for m in found} == {member, newcomer}
    assert [c.case_id for c in book.listed("", "open", 10)] == ["C-2", "Q-1", "C-1"]

    resolved = book.resolve("C-1", "fee refunded", "staff:b")
    assert (resolved.status, resolved.resolved_by, resolved.follow_up) == (
        "resolved",
        "staff:b",
        "sent",
    )
    assert stage(database, member) == "customer"
    assert book.resolve("C-1", "again", "staff:c").resolution == "fee refunded"
    assert outbox.sent == [("case-follow-up:C-1", member)]
    assert book.complaints_by_category(30) == [("delivery", 2, 1)]


def test_a_case_is_recorded_once_per_id_and_checked(database: Database) -> None:  # noqa: F811
    book = CaseBook(database, Lifecycle(), Outbox(), lambda: NOW)
    member = str(add_member(database))
    complaint(book, member)
    complaint(book, member)
    assert len(book.listed(member, "", 10)) == 1
    with pytest.raises(FailedPrecondition) as raised:
        complaint(book, member, category="Parking")
    assert raised.value.code == "idempotency-mismatch"
    for kind, channel, text, code in (
        ("rant", "phone", "x", "invalid-kind"),
        ("complaint", "pigeon", "x", "invalid-channel"),
        ("complaint", "phone", " ", "invalid-case"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            book.open("C-9", member, kind, channel, "delivery", text, "staff:a")
        assert refused.value.code == code
