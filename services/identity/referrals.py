"""Referral codes: every member's short code to give friends, and the referrer a code names.

A code is given a member the first time it is asked for, of letters and digits nobody mistakes
for one another (no 0/O, 1/I/L). A friend who gives one at enrolment is recorded as referred by
the code's owner (its survivor, for a merged duplicate); points rewards both sides later.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.identity import repository
from services.runtime.db import Database
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound
from services.runtime.ids import parse_id
from services.runtime.text import ascii_digits

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 7
MAX_CODE_INPUT = 20


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """A code as typed (any case, spaces, dashes, Persian digits) as it is stored."""
    code = ascii_digits(raw[:MAX_CODE_INPUT]).upper().replace(" ", "").replace("-", "")
    if len(code) != CODE_LENGTH or not set(code) <= set(ALPHABET):
        raise invalid_referral_code()
    return code


def invalid_referral_code() -> InvalidArgument:
    return InvalidArgument(
        "this referral code is not valid, or referrals are not open", code="invalid-referral-code"
    )


def referrer_of(session: Session, raw_code: str) -> uuid.UUID:
    """The member a referral code names now: its owner, or the survivor the owner was merged
    into. Refused with `invalid-referral-code` for an unknown code or an erased member."""
    owner_id = repository.member_id_by_referral_code(session, normalize_code(raw_code))
    owner = repository.resolve_member(session, owner_id) if owner_id else None
    if owner is None or owner.erased_at is not None:
        raise invalid_referral_code()
    return owner.id


class ReferralCodes:
    def __init__(self, database: Database, program_open: Callable[[], bool]) -> None:
        self._db = database
        self._program_open = program_open

    def check_open(self) -> None:
        """Refuses a referral while the program is off (asked of points)."""
        if not self._program_open():
            raise invalid_referral_code()

    def code_of(self, member_id: str) -> tuple[str, int]:
        """The member's code, given now if they have none yet, and how many friends enrolled
        with it (or with the code of a duplicate merged into the member)."""
        parsed = parse_id(member_id, "member")
        with self._db.read() as session:
            member = repository.resolve_member(session, parsed)
            if member is not None and member.erased_at is None and member.referral_code:
                return member.referral_code, repository.friends_referred(session, member.id)
        for _attempt in range(3):
            try:
                with self._db.write() as session:
                    member = repository.resolve_member(session, parsed)
                    if member is None or member.erased_at is not None:
                        raise NotFound("member not found", code="member-not-found")
                    member = repository.member_for_update(session, member.id)
                    if member.referral_code is None:
                        member.referral_code = new_code()
                    return member.referral_code, repository.friends_referred(session, member.id)
            except IntegrityError:
                continue  # another member has this code (one in 27 billion): draw again
        raise AlreadyExists("could not issue a referral code, try again", code="code-clash")
