"""A segment's consented contacts, exported by marketing staff a page at a time: the one way
members' phones and e-mails leave identity in bulk.

Campaigns knows who is in a segment (member ids only); the gateway hands identity a page of those
ids and gets back the contacts of the members who consented to the channel. Every export has one
record in the audit trail (who, when, which segment and channel, how many rows), written in the
transaction that reads each page: no page leaves without being counted. A page asked again (a
retry) writes the same count.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.identity import audit, repository
from services.identity.merging import checked_actor
from services.identity.senders import CHANNELS
from services.runtime.db import Database
from services.runtime.errors import Conflict, InvalidArgument
from services.runtime.ids import parse_id
from services.runtime.staff_actions import SEGMENT_EXPORT

MAX_PAGE = 1000


@dataclass(frozen=True)
class Contact:
    member_id: uuid.UUID
    first_name: str
    address: str


def export_detail(channel: str, rows: int) -> str:
    return f"{channel}: {rows} rows"


class ContactExports:
    def __init__(self, database: Database) -> None:
        self._db = database

    def page(
        self,
        export_id: str,
        actor: str,
        segment_id: str,
        channel: str,
        member_ids: list[str],
        rows_before: int,
    ) -> list[Contact]:
        actor = checked_actor(actor)
        record_id = parse_id(export_id, "export")
        segment = str(parse_id(segment_id, "segment"))
        if channel not in CHANNELS:
            raise InvalidArgument(
                f"channel must be one of {', '.join(CHANNELS)}", code="invalid-channel"
            )
        if len(member_ids) > MAX_PAGE or rows_before < 0:
            raise InvalidArgument(
                f"a page is at most {MAX_PAGE} members, after 0 or more rows", code="invalid-page"
            )
        ids = [parse_id(member_id, "member") for member_id in member_ids]
        with self._db.write() as session:
            rows = repository.consented_contacts(session, ids, channel)
            contacts = [Contact(r.id, r.first_name or "", r.address) for r in rows]
            detail = export_detail(channel, rows_before + len(contacts))
            record = repository.staff_action(session, record_id)
            if record is None:
                audit.record(
                    session,
                    actor,
                    SEGMENT_EXPORT,
                    subject=segment,
                    detail=detail,
                    action_id=record_id,
                )
            elif (record.action, record.actor, record.subject) != (SEGMENT_EXPORT, actor, segment):
                raise Conflict("the export id names another export", code="export-id-reused")
            else:
                record.detail = detail
            return contacts
