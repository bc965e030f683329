"""One-time codes: by SMS to log in and to prove both numbers when a phone changes, by e-mail to
prove a new e-mail address (kept under the address's hash where a phone's would be).

A code lives a few minutes, allows five tries, and only the latest one sent for a purpose works.
Sends are limited per phone or e-mail address (counted in the database, so the limit holds
without Redis) and per client address (counted in Redis). Codes are kept as keyed hashes, and
never logged.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from services.identity import identifiers, repository
from services.identity.member_messages import MemberMessages
from services.identity.models import OneTimeCode
from services.identity.settings import CodePolicy
from services.runtime.cache import Cache
from services.runtime.db import Database, utcnow
from services.runtime.errors import Conflict, DomainError, ResourceExhausted, Unauthenticated
from services.runtime.text import ascii_digits


@dataclass(frozen=True)
class CodeCheck:
    """The result of one try: the code to spend, or why the try was refused."""

    code_id: uuid.UUID | None
    error: DomainError | None = None

    def raise_if_refused(self) -> None:
        if self.error is not None:
            raise self.error


MESSAGE = "Your loyalty club code: {code}. It works for {minutes} minutes; never share it."
# The code's message in the language the member asked in; English for any other.
MESSAGES = {
    "en": MESSAGE,
    "fa": "کد باشگاه مشتریان: {code}\nاین کد {minutes} دقیقه اعتبار دارد؛ آن را به کسی ندهید.",
}


class LoginCodes:
    def __init__(
        self,
        database: Database,
        cache: Cache,
        hasher: identifiers.PiiHasher,
        messages: MemberMessages,
        policy: CodePolicy,
    ) -> None:
        self._db = database
        self._cache = cache
        self._hash = hasher
        self._messages = messages
        self.policy = policy

    def _code_hash(self, code_id: uuid.UUID, code: str) -> str:
        return self._hash("code", f"{code_id}:{code}")

    def send(
        self,
        to: str,
        to_hash: str,
        purpose: str,
        client: str,
        member_id: uuid.UUID | None = None,
        channel: str = "sms",
        language: str = "en",
    ) -> int:
        """Sends a fresh code to a phone (or an e-mail address, on `channel` "email"); answers
        how many seconds it will work."""
        policy = self.policy
        if client:
            decision = self._cache.hit(
                f"codes:client:{self._hash('client', client)}",
                policy.sends_per_client,
                policy.window_seconds,
            )
            if not decision.allowed:
                raise ResourceExhausted(
                    "too many codes asked from this address: wait and try again",
                    decision.retry_after,
                    code="too-many-codes",
                )
        now = utcnow()
        code = f"{secrets.randbelow(10**6):06d}"
        with self._db.write() as session:
            since = now - timedelta(seconds=policy.window_seconds)
            sent = repository.codes_sent_since(session, to_hash, since)
            if sent >= policy.sends_per_phone:
                where = "number" if channel == "sms" else "e-mail address"
                raise ResourceExhausted(
                    f"too many codes sent to this {where}: wait and try again",
                    policy.window_seconds,
                    code="too-many-codes",
                )
            repository.close_open_codes(session, to_hash, purpose, now)
            row = OneTimeCode(
                id=uuid.uuid4(),
                phone_hash=to_hash,
                purpose=purpose,
                member_id=member_id,
                created_at=now,
                expires_at=now + timedelta(seconds=policy.ttl_seconds),
                tries=0,
            )
            row.code_hash = self._code_hash(row.id, code)
            session.add(row)
        # The code itself stays in ASCII digits in either language: phones read it as a code.
        body = MESSAGES.get(language, MESSAGE).format(code=code, minutes=policy.ttl_seconds // 60)
        self._messages.send_code(f"code:{row.id}", channel, to, body, code)
        return policy.ttl_seconds

    def check(
        self, phone_hash: str, purpose: str, code: str, member_id: uuid.UUID | None = None
    ) -> CodeCheck:
        """One try at the latest code; the try counts whether it is right or wrong."""
        code = ascii_digits(code or "").strip()
        with self._db.write() as session:
            row = repository.latest_open_code(session, phone_hash, purpose, member_id, utcnow())
            if row is None:
                return CodeCheck(None, _expired())
            if row.tries >= self.policy.max_tries:
                return CodeCheck(None, _too_many_tries(row.expires_at))
            row.tries += 1
            if not hmac.compare_digest(row.code_hash, self._code_hash(row.id, code)):
                left = self.policy.max_tries - row.tries
                return CodeCheck(
                    None,
                    Unauthenticated(f"the code is not right; {left} tries left", code="wrong-code"),
                )
            return CodeCheck(row.id)

    @staticmethod
    def spend(session: Session, *checks: CodeCheck) -> None:
        """Marks the checked codes used, in the caller's transaction; each works once."""
        for check in checks:
            if not repository.spend_code(session, check.code_id, utcnow()):
                raise Conflict("this code was already used", code="code-used")

    def forget(self, session: Session, phone_hash: str | None, member_id: uuid.UUID) -> None:
        """Deletes the codes sent to the phone and those the member asked for."""
        repository.delete_codes(session, phone_hash, member_id)


def _expired() -> Unauthenticated:
    return Unauthenticated("no code is waiting for this number, or it expired", "code-expired")


def _too_many_tries(expires_at: datetime) -> ResourceExhausted:
    wait = max(1, int((expires_at - utcnow()).total_seconds()))
    return ResourceExhausted(
        "too many wrong tries for this code: ask for a new one", wait, code="too-many-tries"
    )
