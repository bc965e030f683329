"""Members brought in from another system's file, a batch of rows at a time.

Each row is checked as an enrolment is; a bad row is answered with its error and the others go
on. A row whose external id or phone names a member already answers that member and changes
nothing, so importing a file again changes nothing. The new members of a batch are written in
one transaction, each with its `member.enrolled` event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from loyalty.identity.v1.identity_pb2 import MemberEnrolled
from services.identity import events, identifiers, repository
from services.identity.directory import Directory, email_key
from services.identity.names import search_keys
from services.identity.senders import CHANNELS
from services.runtime.batches import check_each, write_batch
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument
from services.runtime.jalali import typed_date

SOURCE = "import"
CREATED = "created"
EXISTING = "existing"
REJECTED = "rejected"
MAX_EXTERNAL_ID = 100


@dataclass(frozen=True)
class ImportRow:
    line: int
    phone: str
    external_id: str = ""
    card_number: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    birth_date: str = ""
    city: str = ""
    # (channel, granted, the day it was given: ISO in either calendar, or empty for today)
    consents: tuple[tuple[str, bool, str], ...] = ()


@dataclass(frozen=True)
class ImportResult:
    line: int
    outcome: str
    member_id: str = ""
    error_code: str = ""
    error: str = ""
    card_replaced: bool = False


@dataclass
class _Checked:
    """A row that passed its checks, in the form it is stored in."""

    index: int
    line: int
    external_id: str | None
    phone_hash: str
    card_number: str | None
    fields: dict[str, object]
    consents: list[tuple[str, bool, datetime]] = field(default_factory=list)


def external_id(value: str) -> str | None:
    value = value.strip()
    if len(value) > MAX_EXTERNAL_ID:
        raise InvalidArgument(
            f"external_id is longer than {MAX_EXTERNAL_ID} characters", code="invalid-external-id"
        )
    return value or None


def consent_day(value: str, now: datetime) -> datetime:
    if not value:
        return now
    try:
        day = typed_date(value)
    except ValueError:
        raise InvalidArgument(
            "a consent's date must be a date YYYY-MM-DD (Gregorian or Jalali)",
            code="invalid-consent-date",
        ) from None
    given = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if given > now:
        raise InvalidArgument("a consent's date is in the future", code="invalid-consent-date")
    return given


class MemberImport:
    def __init__(self, database: Database, directory: Directory) -> None:
        self._db = database
        self._directory = directory

    def run(self, rows: list[ImportRow], dry_run: bool = False) -> list[ImportResult]:
        """One result per row, in the rows' order."""
        now = utcnow()
        checked, refused = check_each(rows, lambda index, row: self._check(index, row, now))
        results = {
            index: ImportResult(rows[index].line, REJECTED, error_code=e.code, error=str(e))
            for index, e in refused.items()
        }
        for row, result in write_batch(lambda: self._write(checked, now, dry_run)):
            results[row.index] = result
        return [results[index] for index in range(len(rows))]

    def _check(self, index: int, row: ImportRow, now: datetime) -> _Checked:
        phone, phone_hash = self._directory.phone_hash(row.phone)
        email = identifiers.normalize_email(row.email) if row.email.strip() else None
        try:
            card = identifiers.normalize_card_number(row.card_number) if row.card_number else None
        except InvalidArgument:
            card = ""  # given, but not a card: a new one is issued
        consents = []
        for channel, granted, given_on in row.consents:
            if channel not in CHANNELS:
                raise InvalidArgument(f"consent channel must be one of {', '.join(CHANNELS)}")
            consents.append((channel, granted, consent_day(given_on, now)))
        if len({c[0] for c in consents}) != len(consents):
            raise InvalidArgument("a consent channel is given twice")
        return _Checked(
            index=index,
            line=row.line,
            external_id=external_id(row.external_id),
            phone_hash=phone_hash,
            card_number=card,
            fields=self._directory.member_fields(phone, phone_hash, email, row, now),
            consents=consents,
        )

    def _write(
        self, rows: list[_Checked], now: datetime, dry_run: bool
    ) -> list[tuple[_Checked, ImportResult]]:
        written: list[tuple[_Checked, ImportResult]] = []
        with self._db.write() as session:
            known = repository.members_matching_import(
                session,
                [r.external_id for r in rows if r.external_id],
                [r.phone_hash for r in rows],
            )
            by_external = {m.external_id: str(m.id) for m in known if m.external_id}
            by_phone = {m.phone_hash: str(m.id) for m in known}
            taken = repository.cards_taken(session, [r.card_number for r in rows if r.card_number])
            new: list[dict] = []
            consents: list[dict] = []
            payloads: dict[uuid.UUID, MemberEnrolled] = {}
            for row in rows:
                found = by_external.get(row.external_id) or by_phone.get(row.phone_hash)
                if found:
                    written.append((row, ImportResult(row.line, EXISTING, member_id=found)))
                    continue
                card = row.card_number
                replaced = card is not None and (not card or card in taken)
                if replaced or card is None:
                    card = identifiers.new_card_number()
                taken.add(card)
                new_id = uuid.uuid4()
                # Written in one statement, past the ORM's hook that keeps the search keys.
                name_key, last_name_key = search_keys(
                    row.fields.get("first_name") or "", row.fields.get("last_name") or ""
                )
                new.append(
                    {
                        "id": new_id,
                        "card_number": card,
                        "external_id": row.external_id,
                        "name_key": name_key,
                        "last_name_key": last_name_key,
                        **row.fields,
                    }
                )
                consents += [
                    {
                        "member_id": new_id,
                        "channel": c,
                        "granted": g,
                        "source": SOURCE,
                        "updated_at": at,
                    }
                    for c, g, at in row.consents
                ]
                attributes = events.profile(SimpleNamespace(**row.fields, gender="", interests=[]))
                given = {c: g for c, g, _at in row.consents}
                payloads[new_id] = events.enrolment(attributes, given, "", SOURCE)
                member_id = str(new_id)
                # A later row of the batch with the same external id or phone is this member.
                if row.external_id:
                    by_external[row.external_id] = member_id
                by_phone[row.phone_hash] = member_id
                written.append(
                    (row, ImportResult(row.line, CREATED, member_id, card_replaced=replaced))
                )
            if dry_run or not new:
                return written
            repository.add_members(session, new, consents)
            events.enrolled_many(session, payloads)
        # An e-mail may be shared: a lookup cached before these members must ask again.
        emails = [email_key(member["email_hash"]) for member in new if member["email_hash"]]
        if emails:
            self._directory.forget_keys(emails)
        return written
