"""Segments: a rule over the member view, or a fixed list of members uploaded by a marketer.
Both become one SQL condition on the members table, counted and sampled in the database.

A preview shows marketers no single member: an audience of fewer than `PREVIEW_MINIMUM` members
(none included) is answered as "fewer than" that, without its size or a sample, so narrowing a
rule around one member tells nothing about them; and a sample shows only stage and tier, never
who.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.models import Segment
from services.campaigns.rules import compile_rule
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.ids import parse_id
from services.runtime.logs import log

logger = logging.getLogger(__name__)

MAX_STATIC = 100_000
SAMPLE = 20
PREVIEW_MINIMUM = 10
# The most member ids one page of a segment lists.
MAX_PAGE = 1000


@dataclass(frozen=True)
class SegmentView:
    id: str
    name: str
    kind: str
    rule: Any
    created_at: datetime


@dataclass(frozen=True)
class SampleMember:
    stage: str
    tier: str


@dataclass(frozen=True)
class Preview:
    """The audience's size and a sample of it; or, for an audience smaller than
    `fewer_than`, neither."""

    size: int | None
    sample: list[SampleMember]
    fewer_than: int | None = None


def _view(segment: Segment) -> SegmentView:
    return SegmentView(
        id=str(segment.id),
        name=segment.name,
        kind=segment.kind,
        rule=json.loads(segment.rule) if segment.rule else None,
        created_at=segment.created_at,
    )


class Segments:
    def __init__(
        self, database: Database, currency: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._currency = currency
        self._clock = clock

    def create(
        self, name: str, rule: Any = None, member_ids: list[str] | None = None
    ) -> SegmentView:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidArgument("name: 1 to 200 characters", code="invalid-segment")
        if (rule is None) == (member_ids is None):
            raise InvalidArgument(
                "give either a rule or a list of member_ids", code="invalid-segment"
            )
        members: list[uuid.UUID] = []
        if rule is not None:
            compile_rule(rule, self._currency, self._clock())
        else:
            assert member_ids is not None
            if len(member_ids) > MAX_STATIC:
                raise InvalidArgument(f"member_ids: at most {MAX_STATIC}", code="invalid-segment")
            for i, value in enumerate(member_ids):
                try:
                    members.append(uuid.UUID(value))
                except (ValueError, AttributeError, TypeError):
                    raise InvalidArgument(
                        f"member_ids[{i}] is not a member id", code="invalid-segment"
                    ) from None
        with self._db.write() as session:
            segment = Segment(
                id=uuid.uuid4(),
                name=name,
                kind="rule" if rule is not None else "static",
                rule=json.dumps(rule) if rule is not None else None,
                created_at=self._clock(),
            )
            repository.add_segment(session, segment, list(dict.fromkeys(members)))
            return _view(segment)

    def get(self, segment_id: str) -> SegmentView:
        with self._db.read() as session:
            return _view(self._load(session, segment_id))

    def list(self) -> list[SegmentView]:
        with self._db.read() as session:
            return [_view(s) for s in repository.segments(session)]

    def _load(self, session: Session, segment_id: str) -> Segment:
        segment = repository.segment(session, parse_id(segment_id, "segment"))
        if segment is None:
            raise NotFound("no such segment", code="segment-not-found")
        return segment

    def condition(self, session: Session, segment_id: str | uuid.UUID) -> ColumnElement[bool]:
        """The SQL condition on members of one segment."""
        segment = self._load(session, str(segment_id))
        if segment.kind == "static":
            return repository.listed_members(segment.id)
        return compile_rule(json.loads(segment.rule or "{}"), self._currency, self._clock())

    def preview(self, rule: Any = None, segment_id: str | None = None) -> Preview:
        with self._db.read() as session:
            if segment_id is not None:
                condition = self.condition(session, segment_id)
            else:
                condition = compile_rule(rule, self._currency, self._clock())
            return preview(session, condition)

    def members(self, segment_id: str, after_member_id: str, limit: int) -> list[uuid.UUID]:
        """A page of the segment's live members' ids, in order, after `after_member_id`."""
        if not 0 <= limit <= MAX_PAGE:
            raise InvalidArgument(f"limit must be 1 to {MAX_PAGE}", code="invalid-limit")
        after = parse_id(after_member_id, "member") if after_member_id else None
        with self._db.read() as session:
            condition = self.condition(session, segment_id)
            return repository.member_ids_page(session, condition, after, limit or MAX_PAGE)

    def match(
        self, member_id: str, segment_ids: list[str], stages: list[str]
    ) -> tuple[set[str], set[str]]:
        """Of these segments and lifecycle stages, those the member is in now (for points'
        rewards shown only to some). Ids that name no segment match nothing."""
        member = parse_id(member_id, "member")
        with self._db.read() as session:
            matched = {
                segment_id
                for segment_id in segment_ids
                if _is_uuid(segment_id) and self.contains(session, uuid.UUID(segment_id), member)
            }
            stage = repository.member_stage(session, member) if stages else None
        return matched, {stage} & set(stages) if stage else set()

    def contains(self, session: Session, segment_id: uuid.UUID, member_id: uuid.UUID) -> bool:
        """Whether one member is in the segment now (an indexed lookup, not a scan)."""
        segment = repository.segment(session, segment_id)
        if segment is None:
            return False
        if segment.kind == "static":
            return repository.is_listed(session, segment_id, member_id)
        try:
            condition = compile_rule(
                json.loads(segment.rule or "{}"), self._currency, self._clock()
            )
        except InvalidArgument as error:
            # A rule stored before today's checks: a purchase is answered without its campaign
            # rather than refused.
            log(
                logger,
                "segment rule cannot be evaluated; taken as holding no one",
                logging.ERROR,
                segment=str(segment_id),
                reason=error.detail,
            )
            return False
        return repository.matches(session, member_id, condition)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def preview(session: Session, condition: ColumnElement[bool]) -> Preview:
    size = repository.count_members(session, condition)
    if size < PREVIEW_MINIMUM:
        return Preview(size=None, sample=[], fewer_than=PREVIEW_MINIMUM)
    rows = repository.sample_members(session, condition, SAMPLE)
    return Preview(size=size, sample=[SampleMember(r.stage, r.tier) for r in rows])
