"""A segment's consented contacts as CSV rows: campaigns lists the segment's member ids a page at
a time, identity answers the contacts of each page's members who consented to the channel and
counts the page into the export's record in the audit trail. Personal data comes only from
identity, and only through this export."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from gateway.clients import Clients

CHANNELS = {"sms": "phone", "email": "email"}
PAGE = 1000


def columns(channel: str) -> tuple[str, ...]:
    return ("member_id", "first_name", CHANNELS[channel])


def contact_rows(clients: Clients, segment_id: str, channel: str, actor: str) -> Iterator[dict]:
    """The rows, in the order of member ids. The segment is looked up first, so an unknown one
    is refused before the answer starts."""
    clients.campaigns.segment(segment_id)
    export_id = str(uuid.uuid4())
    address = CHANNELS[channel]
    after, rows = "", 0
    while True:
        member_ids = clients.campaigns.segment_members(segment_id, after, PAGE)
        contacts = clients.identity.export_contacts(
            export_id, actor, segment_id, channel, member_ids, rows
        )
        rows += len(contacts)
        for contact in contacts:
            yield {
                "member_id": contact["member_id"],
                "first_name": contact["first_name"],
                address: contact["address"],
            }
        if len(member_ids) < PAGE:
            return
        after = member_ids[-1]
