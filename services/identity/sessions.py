"""Login sessions of members, staff and web tills: one opaque random token each, kept as its
SHA-256. A till's session is bound to the POS key it signed in with (its subject).

A token is valid until it expires or is revoked. Answers are cached in Redis so that the gateway's
checks rarely reach the database. A revocation writes a tombstone over the cached answer after
its commit, and a cache fill only ever creates an absent entry, so a check that read the database
just before the revocation cannot put the session back: once `revoke` returns, every check that
reaches this service refuses the token.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.identity import repository
from services.identity.models import LoginSession
from services.runtime.cache import Cache
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument

TOKEN_PREFIX = "ls_"
KINDS = ("member", "staff", "till")
STAFF_ROLES = ("admin", "marketer", "support")
SHARED_TTL = 60
# A till stays signed in for a shift at most.
TILL_SESSION = timedelta(hours=12)
REVOKED = "revoked"


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionView:
    kind: str
    subject_id: uuid.UUID
    role: str | None
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, database: Database, cache: Cache) -> None:
        self._db = database
        self._cache = cache

    def open(self, kind: str, subject_id: uuid.UUID, role: str | None, ttl: timedelta) -> str:
        """A new session's token: shown to the caller once, never stored."""
        return self.issue(kind, subject_id, role, ttl).token

    def issue(
        self, kind: str, subject_id: uuid.UUID, role: str | None, ttl: timedelta
    ) -> IssuedSession:
        """A new session: its token and when it expires."""
        if kind not in KINDS:
            raise InvalidArgument(f"session kind must be one of {', '.join(KINDS)}")
        if kind == "staff" and role not in STAFF_ROLES:
            raise InvalidArgument(f"staff role must be one of {', '.join(STAFF_ROLES)}")
        if kind != "staff" and role:
            raise InvalidArgument(f"a {kind} session has no role")
        if ttl <= timedelta(0):
            raise InvalidArgument("a session must last some time")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = utcnow() + ttl
        with self._db.write() as session:
            session.add(
                LoginSession(
                    token_hash=token_hash(token),
                    kind=kind,
                    subject_id=subject_id,
                    role=role,
                    expires_at=expires_at,
                )
            )
        return IssuedSession(token, expires_at)

    def resolve(self, token: str) -> SessionView | None:
        """The session of a valid token; None when unknown, expired or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = token_hash(token)
        cached = self._cache.get_json(f"session:{digest}")
        if cached == REVOKED:
            return None
        if isinstance(cached, dict):
            view = SessionView(
                kind=cached["kind"],
                subject_id=uuid.UUID(cached["subject_id"]),
                role=cached["role"],
                expires_at=datetime.fromisoformat(cached["expires_at"]),
            )
            return view if view.expires_at > utcnow() else None
        now = utcnow()
        with self._db.read() as session:
            row = repository.live_session(session, digest, now)
        if row is None:
            return None
        view = SessionView(row.kind, row.subject_id, row.role, row.expires_at)
        lifetime = min(SHARED_TTL, int((view.expires_at - now).total_seconds()))
        if lifetime > 0:
            entry = {
                "kind": view.kind,
                "subject_id": str(view.subject_id),
                "role": view.role,
                "expires_at": view.expires_at.isoformat(),
            }
            # Only into an absent entry: never over a revocation's tombstone.
            self._cache.set_if_unchanged(
                {f"session:{digest}": None}, f"session:{digest}", json.dumps(entry), lifetime
            )
        return view

    def revoke(self, token: str) -> None:
        """Ends the token's session; an unknown or already revoked token is left as it is."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return
        digest = token_hash(token)
        with self._db.write() as session:
            repository.revoke_session(session, digest, utcnow())
        self._tombstone([digest])

    def revoke_all(self, kind: str, subject_id: uuid.UUID) -> int:
        """Ends every open session of one member or staff account; how many there were."""
        now = utcnow()
        with self._db.write() as session:
            rows = repository.live_sessions_of(session, kind, subject_id, now)
            for row in rows:
                row.revoked_at = now
            digests = [row.token_hash for row in rows]
        self._tombstone(digests)
        return len(digests)

    def _tombstone(self, digests: list[str]) -> None:
        for digest in digests:
            self._cache.set_json(f"session:{digest}", REVOKED, SHARED_TTL)
