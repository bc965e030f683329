"""Which members may earn and spend: the members identity knows, as points learns them.

Points keeps its own table of members, filled from identity's event feed (`member.enrolled`,
`member.merged`, `member.erased`) and, for a member the feed has not brought yet, from
identity's answer about them, asked once. A change naming a member is for that member, or for
its survivor if it was merged into another; a member identity does not know, or whose data was
erased, neither earns nor spends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from loyalty.identity.v1 import identity_pb2
from services.points import repository
from services.points.ledger import MAX_MERGE_HOPS, Operations
from services.points.policy import PointsPolicy
from services.points.repository import MemberState
from services.runtime import event_types
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition
from services.runtime.ids import parse_id
from services.runtime.outbox import Event

MEMBER = "member"
MERGED = "merged"
ERASED = "erased"


@dataclass(frozen=True)
class IdentityAnswer:
    """Identity's answer about a member id: the member it names now (the survivor, for a
    merged duplicate) and whether their data was erased."""

    member_id: uuid.UUID
    erased: bool
    # Whose referral code the member enrolled with.
    referrer_id: uuid.UUID | None = None


class IdentityLookup(Protocol):
    def lookup(self, member_id: uuid.UUID) -> IdentityAnswer | None:
        """Identity's answer about the member; None if it knows no such member. Raises
        Unavailable when identity cannot answer."""


class MemberOperations(Operations):
    """A use case whose changes name members, and so asks `Members` whose points they are."""

    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        members: Members,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(database, policy, clock)
        self._members = members


def unknown_member() -> FailedPrecondition:
    return FailedPrecondition("no member with this member_id", code="unknown-member")


class Members:
    def __init__(
        self,
        database: Database,
        identity: IdentityLookup,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._identity = identity
        self._clock = clock

    def owner(self, member_id: uuid.UUID, known: MemberState | None = None) -> uuid.UUID:
        """The member whose points a change naming `member_id` is for: the member, or the
        survivor it was merged into. `known` is what points has of the member already, if the
        caller read it. Refused with `unknown-member` or `member-erased`."""
        if known is None:
            known = self._state(member_id)
        for _hop in range(MAX_MERGE_HOPS):
            if known.status == ERASED:
                raise FailedPrecondition("this member's data was erased", code="member-erased")
            if known.status != MERGED or known.survivor_id is None:
                return member_id
            member_id = known.survivor_id
            known = self._state(member_id)
        raise FailedPrecondition("the member's merges go too deep", code="merge-chain")

    def _state(self, member_id: uuid.UUID) -> MemberState:
        with self._db.read() as session:
            known = repository.member_state(session, member_id)
        return known if known is not None else self._learn(member_id)

    def _learn(self, member_id: uuid.UUID) -> MemberState:
        """Asks identity about a member the feed has not brought yet, and remembers it."""
        answer = self._identity.lookup(member_id)
        if answer is None:
            raise unknown_member()
        current = MemberState(ERASED if answer.erased else MEMBER)
        states = {answer.member_id: current}
        if answer.member_id != member_id:
            states[member_id] = MemberState(MERGED, answer.member_id)
        with self._db.write() as session:
            repository.learn_members(session, states, self._clock(), final=False)
            if answer.referrer_id is not None:
                referral = {answer.member_id: answer.referrer_id}
                repository.add_referrals(session, referral, self._clock())
        return states[member_id]

    def forget(self, member_id: str) -> None:
        """The member's data was erased: they neither earn nor spend from now on."""
        parsed = parse_id(member_id, "member")
        with self._db.write() as session:
            repository.learn_members(
                session, {parsed: MemberState(ERASED)}, self._clock(), final=True
            )

    def apply(self, session: Session, events: list[Event]) -> None:
        """A page of identity's events, in the caller's transaction."""
        learn_members(session, events, self._clock())


def learn_members(session: Session, events: list[Event], at: datetime) -> None:
    """Records the members a page of identity's events enrols, merges or erases, and who
    referred the new ones; other events are not about who may earn."""
    enrolled: dict[uuid.UUID, MemberState] = {}
    settled: dict[uuid.UUID, MemberState] = {}
    referred: dict[uuid.UUID, uuid.UUID] = {}
    for event in events:
        if event.type == event_types.MEMBER_ENROLLED:
            enrolled[uuid.UUID(event.member_id)] = MemberState(MEMBER)
            new = event_types.payload_as(identity_pb2.MemberEnrolled, event.payload, event.type)
            if new.referrer_id:
                referred[uuid.UUID(event.member_id)] = uuid.UUID(new.referrer_id)
        elif event.type == event_types.MEMBER_MERGED:
            merged = event_types.payload_as(identity_pb2.MemberMerged, event.payload, event.type)
            survivor = uuid.UUID(merged.survivor_id)
            settled[uuid.UUID(event.member_id)] = MemberState(MERGED, survivor)
        elif event.type == event_types.MEMBER_ERASED:
            settled[uuid.UUID(event.member_id)] = MemberState(ERASED)
    # Enrolments first: a merge or an erasure later in the page replaces them.
    repository.learn_members(session, enrolled, at, final=False)
    repository.learn_members(session, settled, at, final=True)
    repository.add_referrals(session, referred, at)
