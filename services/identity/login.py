"""Member login for the portal: a one-time code to the phone, then a short-lived session.

A phone that is not a member yet becomes one at its first login: self-service enrolment on the
web, with the number proven by the code, referred by a friend if it gives their referral code
(refused before the code is spent, so the member may correct it; an existing member's login
ignores it: members are not referred).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.identity.codes import LoginCodes
from services.identity.directory import Directory, Enrollment, MemberView
from services.identity.sessions import Sessions
from services.runtime.db import Database, utcnow
from services.runtime.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class Login:
    token: str
    expires_at: datetime
    member: MemberView
    enrolled: bool


class MemberLogin:
    def __init__(
        self,
        database: Database,
        directory: Directory,
        codes: LoginCodes,
        sessions: Sessions,
        session_ttl: timedelta,
    ) -> None:
        self._db = database
        self._directory = directory
        self._codes = codes
        self._sessions = sessions
        self._ttl = session_ttl

    def start(self, phone: str, client: str, language: str = "en") -> int:
        """Sends a login code, its message in `language` (`en` or `fa`)."""
        phone, phone_hash = self._directory.phone_hash(phone)
        return self._codes.send(phone, phone_hash, "login", client, language=language)

    def verify(self, phone: str, code: str, referral_code: str = "") -> Login:
        phone, phone_hash = self._directory.phone_hash(phone)
        check = self._codes.check(phone_hash, "login", code)
        check.raise_if_refused()
        member = None
        try:
            member = self._directory.identify_by_phone(phone)
        except NotFound:
            if referral_code:
                self._directory.check_referral(referral_code)
        with self._db.write() as session:
            self._codes.spend(session, check)
        enrolled = False
        if member is None:
            try:
                enrollment = Enrollment(phone=phone, source="web", referral_code=referral_code)
                member = self._directory.enroll(enrollment)
                enrolled = True
            except AlreadyExists:
                member = self._directory.identify_by_phone(phone)
        expires_at = utcnow() + self._ttl
        token = self._sessions.open("member", uuid.UUID(member.id), None, self._ttl)
        return Login(token, expires_at, member, enrolled)
