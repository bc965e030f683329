"""Staff accounts: who works the console, with which role, and their logins.

Passwords are kept as Argon2id hashes. A login with an unknown e-mail still verifies a password
against a dummy hash, so that the answer takes about as long as for a known one and does not
tell which addresses have accounts. Every refusal says the same: `invalid-credentials`.

Logins are throttled per account and per client address (`LoginThrottle`): a try takes its
place in the count before its password is checked, and gives it back if the login succeeds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from services.identity import audit, repository
from services.identity.identifiers import normalize_email
from services.identity.models import StaffAccount
from services.identity.sessions import STAFF_ROLES, Sessions
from services.identity.throttle import LoginThrottle
from services.runtime.db import Database
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound, Unauthenticated
from services.runtime.staff_actions import (
    STAFF_CREATE,
    STAFF_DISABLE,
    STAFF_ENABLE,
    STAFF_PASSWORD,
    STAFF_ROLE,
    STAFF_SIGN_OUT,
)

MIN_PASSWORD = 10
MAX_PASSWORD = 200


@dataclass(frozen=True)
class StaffView:
    id: str
    email: str
    role: str
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class StaffLogin:
    token: str
    expires_at: datetime
    staff: StaffView


def _view(account: StaffAccount) -> StaffView:
    return StaffView(
        id=str(account.id),
        email=account.email,
        role=account.role,
        disabled=account.disabled,
        created_at=account.created_at,
    )


class Staff:
    def __init__(
        self,
        database: Database,
        sessions: Sessions,
        session_ttl: timedelta,
        throttle: LoginThrottle,
    ) -> None:
        self._db = database
        self._sessions = sessions
        self._throttle = throttle
        self._session_ttl = session_ttl
        self._hasher = PasswordHasher()
        # Made once at start, so that the first unknown e-mail costs no more than any other.
        self._dummy_hash = self._hasher.hash(uuid.uuid4().hex)

    def accounts(self) -> list[StaffView]:
        with self._db.read() as session:
            return [_view(account) for account in repository.staff_accounts(session)]

    def create(self, email: str, password: str, role: str, actor: str = "") -> StaffView:
        address = normalize_email(email)
        if role not in STAFF_ROLES:
            raise InvalidArgument(
                f"role must be one of {', '.join(STAFF_ROLES)}", code="invalid-role"
            )
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidArgument(
                f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                code="weak-password",
            )
        password_hash = self._hasher.hash(password)
        try:
            with self._db.write() as session:
                if repository.staff_id_by_email(session, address):
                    raise AlreadyExists("a staff account has this e-mail", code="staff-exists")
                account = StaffAccount(email=address, password_hash=password_hash, role=role)
                session.add(account)
                session.flush()
                audit.record(session, actor, STAFF_CREATE, subject=str(account.id), detail=role)
                return _view(account)
        except IntegrityError:
            raise AlreadyExists("a staff account has this e-mail", code="staff-exists") from None

    def login(self, email: str, password: str, client: str) -> StaffLogin:
        """A new staff session for the right e-mail and password of an enabled account, unless
        the account or the client address (`client`, when known) is throttled."""
        try:
            address = normalize_email(email)
        except InvalidArgument:
            address = ""
        reservation = self._throttle.reserve(address or email.strip().lower(), client)
        with self._db.read() as session:
            account = repository.staff_by_email(session, address) if address else None
        if not self._verify(account.password_hash if account else None, password):
            raise _refused()
        assert account is not None
        if account.disabled:
            raise _refused()
        self._throttle.release(reservation)
        if self._hasher.check_needs_rehash(account.password_hash):
            self._rehash(account.id, password)
        issued = self._sessions.issue("staff", account.id, account.role, self._session_ttl)
        return StaffLogin(issued.token, issued.expires_at, _view(account))

    def set_disabled(self, staff_id: str, disabled: bool, actor: str = "") -> StaffView:
        """Disables (and logs out everywhere) or enables an account."""
        parsed = _staff_id(staff_id)
        with self._db.write() as session:
            account = repository.staff_by_id(session, parsed)
            if account is None:
                raise NotFound("no such staff account", code="staff-not-found")
            if account.disabled != disabled:
                action = STAFF_DISABLE if disabled else STAFF_ENABLE
                audit.record(session, actor, action, subject=staff_id)
            account.disabled = disabled
            view = _view(account)
        if disabled:
            self._sessions.revoke_all("staff", parsed)
        return view

    def change(
        self, staff_id: str, actor: str, role: str = "", password: str = "", sign_out: bool = False
    ) -> StaffView:
        """Gives the account a new role or password, or just ends its sessions: any change ends
        every session of the account, so the next sign-in has the new role or password."""
        if role and role not in STAFF_ROLES:
            raise InvalidArgument(
                f"role must be one of {', '.join(STAFF_ROLES)}", code="invalid-role"
            )
        if password and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidArgument(
                f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                code="weak-password",
            )
        password_hash = self._hasher.hash(password) if password else ""
        parsed = _staff_id(staff_id)
        with self._db.write() as session:
            account = repository.staff_by_id(session, parsed)
            if account is None:
                raise NotFound("no such staff account", code="staff-not-found")
            if role and role != account.role:
                audit.record(session, actor, STAFF_ROLE, subject=staff_id, detail=role)
                account.role = role
            if password_hash:
                audit.record(session, actor, STAFF_PASSWORD, subject=staff_id)
                account.password_hash = password_hash
            if sign_out and not (role or password_hash):
                audit.record(session, actor, STAFF_SIGN_OUT, subject=staff_id)
            view = _view(account)
        self._sessions.revoke_all("staff", parsed)
        return view

    def _verify(self, password_hash: str | None, password: str) -> bool:
        if len(password) > MAX_PASSWORD:
            return False
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def _rehash(self, staff_id: uuid.UUID, password: str) -> None:
        with self._db.write() as session:
            account = repository.staff_by_id(session, staff_id)
            if account is not None:
                account.password_hash = self._hasher.hash(password)


def _staff_id(staff_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(staff_id)
    except ValueError:
        raise NotFound("no such staff account", code="staff-not-found") from None


def _refused() -> Unauthenticated:
    return Unauthenticated("the e-mail or the password is wrong", code="invalid-credentials")
