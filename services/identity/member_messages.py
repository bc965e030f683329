"""Messages to members (campaign SMS and e-mail) and one-time codes to phones and addresses.

Every marketing SMS ends with the opt-out line (`IDENTITY_SMS_OPT_OUT_LINE`, «لغو۱۱»): a
member who replies with it withdraws their SMS consent (`replies.py`).

A member gets a marketing message only on a channel they consented to. Each message is recorded
under the caller's id before it is handed to the sender, and marked sent after: a replay of a
sent message sends nothing, and one interrupted in between is handed over again under the same id,
which the sender drops if it already has it. The id names one message to one member (whoever the
member is merged into since) on one channel: used again for another member or channel it is
refused (idempotency-mismatch). The body is not compared: a template is filled in again on each
attempt (the points, their expiry).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.identity import repository
from services.identity.models import Member, SentMessage
from services.identity.senders import CHANNELS, OutgoingMessage, Sender
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.idempotency import Once, check_caller_id

SENT = "sent"
SENDING = "sending"
NO_CONSENT = "skipped-no-consent"
NO_ADDRESS = "skipped-no-address"
ERASED = "skipped-erased"
MAX_BODY = 1000


def _address(member: Member, channel: str) -> str | None:
    return member.phone if channel == "sms" else member.email


def _decide(member: Member, channel: str) -> str:
    if member.erased_at is not None:
        return ERASED
    if not any(c.channel == channel and c.granted for c in member.consents):
        return NO_CONSENT
    if not _address(member, channel):
        return NO_ADDRESS
    return SENDING


def _fingerprint(member_id: uuid.UUID, channel: str) -> str:
    """Whom a message goes to, as the member its id resolves to now, and on which channel."""
    return f"{member_id}|{channel}"


@dataclass(frozen=True)
class _Record:
    """A sent message as the idempotency helper compares it: to whom (as of now) and how."""

    request_hash: str
    result: str


def _record(session: Session, message_id: str) -> _Record | None:
    row = repository.sent_message(session, message_id)
    if row is None:
        return None
    recipient = repository.resolve_member(session, row.member_id) if row.member_id else None
    member_id = recipient.id if recipient else row.member_id
    return _Record(_fingerprint(member_id, row.channel) if member_id else "", row.status)


class MemberMessages:
    def __init__(
        self, database: Database, senders: dict[str, Sender], sms_opt_out_line: str = ""
    ) -> None:
        self._db = database
        self._senders = senders
        self._opt_out_line = sms_opt_out_line

    def send_to_member(self, message_id: str, member_id: str, channel: str, body: str) -> str:
        """Sends `body` to the member once; the status says whether and why not."""
        message_id = message_id.strip()
        check_caller_id(message_id, "message_id")
        if channel not in CHANNELS:
            raise InvalidArgument("channel must be sms or email", "invalid-channel")
        if not body.strip() or len(body) > MAX_BODY:
            raise InvalidArgument(f"body must be 1 to {MAX_BODY} characters", "invalid-body")
        try:
            parsed = uuid.UUID(member_id)
        except ValueError:
            raise NotFound("member not found", code="member-not-found") from None
        try:
            with self._db.write() as session:
                member = repository.resolve_member(session, parsed)
                if member is None:
                    raise NotFound("member not found", code="member-not-found")
                once = Once(
                    self._db,
                    lambda s: _record(s, message_id),
                    _fingerprint(member.id, channel),
                    str,
                    "message_id",
                )
                earlier = once.replay(session)
                if earlier is not None and earlier != SENDING:
                    return earlier
                status = _decide(member, channel)
                address = _address(member, channel)
                if earlier is None:
                    session.add(
                        SentMessage(
                            message_id=message_id,
                            member_id=member.id,
                            channel=channel,
                            status=status,
                        )
                    )
        except IntegrityError:
            # A concurrent copy recorded it first: answer as it did.
            return self.send_to_member(message_id, member_id, channel, body)
        if status != SENDING or address is None:
            return status
        if channel == "sms" and self._opt_out_line and self._opt_out_line not in body:
            body = f"{body}\n{self._opt_out_line}"
        self._senders[channel].send(OutgoingMessage(message_id, channel, address, body))
        with self._db.write() as session:
            row = repository.sent_message(session, message_id)
            if row is not None:
                row.status = SENT
        return SENT

    def send_code(self, message_id: str, channel: str, to: str, body: str, code: str) -> None:
        """A one-time code: no consent needed, and the code's own row is its record."""
        self._senders[channel].send(OutgoingMessage(message_id, channel, to, body, code))
