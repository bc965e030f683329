"""Duplicate members: finding likely pairs, and merging one into the other.

A merge is one recorded operation in three steps. Identity first records it as started, with
both members locked: from then on neither member can take part in another merge (a reverse or
chained merge asked at the same moment is refused), and a retry of the same merge carries it
on. Then the points move (the points service makes that safe to repeat, and sends every later
posting for the duplicate to the survivor). Last, identity applies it in one transaction: the
duplicate's row stays with `merged_into` set, so its id, card and phone resolve to the
survivor, and the survivor takes whatever profile fields it lacked. A merge that the points
service refused is dropped; one left started by a crash is finished by `finish_stalled`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from services.identity import audit, events, repository
from services.identity.directory import Directory, MemberView
from services.identity.models import Consent, Member, Merge
from services.identity.points_client import PointsLedger
from services.identity.sessions import Sessions
from services.runtime.db import Database, utcnow
from services.runtime.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.runtime.ids import parse_id
from services.runtime.logs import log
from services.runtime.staff_actions import MEMBER_MERGE

logger = logging.getLogger(__name__)
# Refusals by the points service that prove it moved nothing: the merge can be dropped. Any
# other failure (unavailable, no answer in time) may have moved the points: it stays started.
POINTS_REFUSED = (InvalidArgument, FailedPrecondition, NotFound, AlreadyExists, Conflict)

PROFILE_FIELDS = ("first_name", "last_name", "birth_date", "city", "gender")


@dataclass(frozen=True)
class DuplicatePair:
    first: MemberView
    second: MemberView
    reason: str


@dataclass(frozen=True)
class MergeResult:
    survivor: MemberView
    available_points: int


def checked_actor(actor: str) -> str:
    actor = " ".join((actor or "").split())
    if not actor or len(actor) > 100:
        raise InvalidArgument("say who merges (1 to 100 characters)", code="invalid-actor")
    return actor


def _take_missing(survivor: Member, duplicate: Member) -> None:
    for name in PROFILE_FIELDS:
        if not getattr(survivor, name) and getattr(duplicate, name):
            setattr(survivor, name, getattr(duplicate, name))
    if not survivor.email and duplicate.email:
        survivor.email, survivor.email_hash = duplicate.email, duplicate.email_hash
    survivor.interests = sorted(set(survivor.interests or []) | set(duplicate.interests or []))
    have = {c.channel for c in survivor.consents}
    for consent in duplicate.consents:
        if consent.channel not in have:
            survivor.consents.append(
                Consent(
                    channel=consent.channel,
                    granted=consent.granted,
                    source=consent.source,
                    updated_at=consent.updated_at,
                )
            )


class Merger:
    def __init__(
        self, database: Database, directory: Directory, points: PointsLedger, sessions: Sessions
    ) -> None:
        self._db = database
        self._directory = directory
        self._points = points
        self._sessions = sessions

    def duplicates(self, limit: int) -> list[DuplicatePair]:
        limit = min(max(limit or 50, 1), 500)
        with self._db.read() as session:
            pairs = repository.duplicate_pairs(session, limit)
        return [
            DuplicatePair(self._directory.get(str(a)), self._directory.get(str(b)), reason)
            for a, b, reason in pairs
        ]

    def _check(self, session: Session, survivor_id: uuid.UUID, duplicate_id: uuid.UUID) -> bool:
        """Whether the merge is still to do (False: it was done already)."""
        survivor = repository.member_by_id(session, survivor_id)
        duplicate = repository.member_by_id(session, duplicate_id)
        if survivor is None or duplicate is None:
            raise NotFound("member not found", code="member-not-found")
        if duplicate.merged_into == survivor_id:
            return False
        if duplicate.merged_into is not None or survivor.merged_into is not None:
            raise FailedPrecondition(
                "one of the members was already merged into another", code="already-merged"
            )
        if duplicate.erased_at is not None or survivor.erased_at is not None:
            raise FailedPrecondition("an erased member cannot be merged", code="member-erased")
        return True

    def merge(self, survivor: str, duplicate: str, actor: str) -> MergeResult:
        survivor_id = parse_id(survivor, "member")
        duplicate_id = parse_id(duplicate, "member")
        actor = checked_actor(actor)
        if survivor_id == duplicate_id:
            raise InvalidArgument("a member cannot be merged into themselves", code="same-member")
        actor = self._start(survivor_id, duplicate_id, actor)
        return self._finish(survivor_id, duplicate_id, actor)

    def _start(self, survivor_id: uuid.UUID, duplicate_id: uuid.UUID, actor: str) -> str:
        """Records the merge as started (or finds it started or done already); the actor of
        the merge as first asked."""
        with self._db.write() as session:
            self._lock(session, survivor_id, duplicate_id)
            under_way = repository.merges_under_way(session, [survivor_id, duplicate_id])
            for started in under_way:
                if (started.duplicate_id, started.survivor_id) == (duplicate_id, survivor_id):
                    return started.actor  # a retry carries the same merge on
            if not self._check(session, survivor_id, duplicate_id):
                return actor
            if under_way:
                raise Conflict(
                    "one of the members is in another merge under way", code="merge-in-progress"
                )
            session.add(
                Merge(
                    duplicate_id=duplicate_id,
                    survivor_id=survivor_id,
                    actor=actor,
                    status="started",
                    merged_at=utcnow(),
                )
            )
        return actor

    def _finish(self, survivor_id: uuid.UUID, duplicate_id: uuid.UUID, actor: str) -> MergeResult:
        try:
            available = self._points.merge(str(duplicate_id), str(survivor_id), actor)
        except POINTS_REFUSED:
            self._drop(survivor_id, duplicate_id)
            raise
        stale: list[str] = []
        with self._db.write() as session:
            self._lock(session, survivor_id, duplicate_id)
            kept = repository.member_by_id(session, survivor_id)
            gone = repository.member_by_id(session, duplicate_id)
            assert kept is not None and gone is not None
            # The points have moved: the recorded merge is applied whatever happened since it
            # started (no other merge of these members could; an erasure could, and keeps ids).
            if gone.merged_into != survivor_id:
                stale = self._directory.cache_keys(gone) + self._directory.cache_keys(kept)
                before = events.profile(kept)
                _take_missing(kept, gone)
                kept.updated_at = utcnow()
                gone.merged_into = survivor_id
                repository.merge_aliases(session, duplicate_id, survivor_id)
                record = repository.merge_record(session, duplicate_id)
                if record is None:
                    session.add(
                        Merge(duplicate_id=duplicate_id, survivor_id=survivor_id, actor=actor)
                    )
                else:
                    record.status = "done"
                audit.record(session, actor, MEMBER_MERGE, survivor_id, detail=str(duplicate_id))
                events.merged(session, duplicate_id, survivor_id)
                if events.profile(kept) != before:
                    events.profile_changed(session, kept)
                self._directory.forget_keys(stale)
        self._directory.forget_keys(stale)
        # Whoever is logged in as the duplicate logs in again, as the survivor.
        self._sessions.revoke_all("member", duplicate_id)
        return MergeResult(self._directory.get(str(survivor_id)), available)

    def _drop(self, survivor_id: uuid.UUID, duplicate_id: uuid.UUID) -> None:
        """Forgets a started merge the points service refused (it moved nothing)."""
        with self._db.write() as session:
            record = repository.merge_record(session, duplicate_id, lock=True)
            if record is not None and record.status == "started":
                session.delete(record)

    def finish_stalled(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Finishes merges left started (a process died between the steps), or drops those
        the points service refuses; how many it settled."""
        with self._db.read() as session:
            stalled = [
                (m.survivor_id, m.duplicate_id, m.actor)
                for m in repository.merges_started_before(session, utcnow() - older_than, 100)
            ]
        settled = 0
        for survivor_id, duplicate_id, actor in stalled:
            try:
                self._finish(survivor_id, duplicate_id, actor)
            except POINTS_REFUSED:
                pass  # dropped
            except DomainError:
                continue  # points is not answering: next time
            settled += 1
        if settled:
            log(logger, "stalled merges settled", count=settled)
        return settled

    @staticmethod
    def _lock(session: Session, *member_ids: uuid.UUID) -> None:
        for member_id in sorted(member_ids):
            repository.member_for_update(session, member_id)
