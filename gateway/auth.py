"""Who is calling, and whether they may call this route.

Four kinds of caller send `Authorization: Bearer <credential>`:
- admin: the token in `LOYALTY_ADMIN_TOKEN`;
- pos: a store's POS key (`lk_...`), checked by the identity service;
- staff and member: a session token (`ls_...`) from a login, checked by the identity service.
Web pages may carry a session token in the `loyalty_session` cookie instead of the header; a
change (POST, PUT, ...) made with the cookie must come from this site (Origin or Referer), so
another site cannot make a visitor's browser act with it.

Each route names one guard (`operation(..., auth="admin")`); a guard lists the grants it lets
through: `admin`, `pos`, `member`, or `staff:<role>`. A caller without a valid credential gets 401,
a valid caller the guard does not admit gets 403 `forbidden`.

Answers are kept briefly in this process so that a till or a page does not pay a hop per request:
POS keys for LOCAL_TTL seconds here plus SHARED_TTL in Redis, sessions for SESSION_LOCAL_TTL
seconds here (the identity service caches them in Redis and overwrites its entry when a session
is revoked). So a revoked session is refused everywhere within SESSION_LOCAL_TTL seconds, and at
once by the gateway process that revoked it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Response, current_app, request

from gateway.clients import clients
from gateway.problems import Problem
from services.runtime.cache import Cache

LOCAL_TTL = 5.0
SHARED_TTL = 30
SESSION_LOCAL_TTL = 2.0
SESSION_COOKIE = "loyalty_session"
SESSION_PREFIX = "ls_"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# Who each guard admits. Support staff read members (lookups, points, history) but change
# nothing; marketers work on campaigns and never see one member's data.
GUARDS: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "staff:admin"}),
    "pos": frozenset({"pos"}),
    "pos-or-admin": frozenset({"pos", "admin", "staff:admin"}),
    "lookup": frozenset({"pos", "admin", "staff:admin", "staff:support"}),
    "support": frozenset({"admin", "staff:admin", "staff:support"}),
    "marketing": frozenset({"admin", "staff:admin", "staff:marketer"}),
    "staff": frozenset({"staff:admin", "staff:marketer", "staff:support"}),
    "member": frozenset({"member"}),
    "session": frozenset({"member", "staff:admin", "staff:marketer", "staff:support"}),
}
GRANT_NAMES = {
    "admin": "the admin token",
    "pos": "a POS key",
    "member": "a member session",
    "staff:admin": "a staff session with role admin",
    "staff:marketer": "a staff session with role marketer",
    "staff:support": "a staff session with role support",
}


@dataclass(frozen=True)
class Caller:
    # "admin", "pos", "staff", "member", or "till" (the web till's session: no grant of the API)
    kind: str
    store_id: str = ""  # pos
    key_id: str = ""  # pos, till
    role: str = ""  # staff: "admin", "marketer" or "support"
    staff_id: str = ""  # staff
    member_id: str = ""  # member
    expires_at: datetime | None = None  # staff and member; pos during a rotation

    @property
    def grant(self) -> str:
        return f"staff:{self.role}" if self.kind == "staff" else self.kind

    @property
    def actor(self) -> str:
        """Who did it, for the audit trail: the staff account, or the admin token."""
        return f"staff:{self.staff_id}" if self.kind == "staff" else "admin-token"


ADMIN = Caller(kind="admin")


def credential(allow_cookie: bool = True) -> str:
    """The caller's bearer credential, else (for web pages) the session cookie's; 401 if none."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "unauthenticated", "send `Authorization: Bearer <token>`")
        return token.strip()
    cookie = request.cookies.get(SESSION_COOKIE, "") if allow_cookie else ""
    if cookie.startswith(SESSION_PREFIX):
        if request.method not in SAFE_METHODS and not same_origin():
            # A browser sends the cookie along with requests other sites make it send.
            raise Problem(
                403,
                "cross-site-request",
                "a change made with the session cookie must come "
                "from this site's own pages (Origin or Referer)",
            )
        return cookie
    raise Problem(401, "unauthenticated", "send `Authorization: Bearer <token>`")


def same_origin() -> bool:
    """Whether the request's Origin (else its Referer) is this host."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(source) and urlsplit(source).netloc == request.host


def is_admin_token(token: str) -> bool:
    expected = current_app.config["LOYALTY"].admin_token
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def identify(token: str) -> Caller:
    """The caller a credential stands for; 401 when it is not valid."""
    if is_admin_token(token):
        return ADMIN
    if token.startswith(SESSION_PREFIX):
        return current_app.extensions["sessions"].resolve(token)
    return current_app.extensions["pos_keys"].resolve(token)


def authenticate(guard: str) -> Caller:
    """The caller of this request if `guard` admits them; a 401 or 403 problem otherwise."""
    allowed = GUARDS[guard]
    sessions_allowed = any(grant.startswith(("staff", "member")) for grant in allowed)
    caller = identify(credential(allow_cookie=sessions_allowed))
    if caller.grant not in allowed:
        raise Problem(403, "forbidden", f"this route needs {describe(guard)}")
    return caller


def describe(guard: str) -> str:
    """`the admin token or a staff session with role admin`."""
    names = [GRANT_NAMES[grant] for grant in sorted(GUARDS[guard])]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class PosKeys:
    """Resolves POS keys to their store, with a short-lived cache in front of identity.

    A key in its rotation grace period is trusted no longer than its `expires_at`; a key revoked
    through this gateway is dropped from Redis and from this process at once, and other gateway
    processes stop accepting it within LOCAL_TTL seconds.
    """

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._local: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def resolve(self, api_key: str) -> Caller:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        now = time.monotonic()
        hit = self._local.get(digest)
        if hit and hit[0] > now and not _expired(hit[1]):
            return hit[1]
        cached = self._cache.get_json(f"poskey:{digest}")
        caller = _pos_caller(cached) if isinstance(cached, dict) else None
        if caller is None or _expired(caller):
            found = clients().identity.pos_key(api_key)
            caller = Caller(
                kind="pos", store_id=found.store_id, key_id=found.key_id, expires_at=found.ends
            )
            entry = {
                "store_id": caller.store_id,
                "key_id": caller.key_id,
                "expires_at": found.ends.isoformat() if found.ends else None,
            }
            self._cache.set_json(f"poskey:{digest}", entry, SHARED_TTL)
        with self._lock:
            if len(self._local) > 10_000:
                self._local.clear()
            self._local[digest] = (now + LOCAL_TTL, caller)
        return caller

    def forget(self, key_hash: str) -> None:
        """Drops what this gateway remembers of a key (after a revocation or rotation)."""
        self._cache.delete(f"poskey:{key_hash}")
        with self._lock:
            self._local.pop(key_hash, None)


def _pos_caller(entry: dict) -> Caller:
    expires_at = entry.get("expires_at")
    return Caller(
        kind="pos",
        store_id=entry["store_id"],
        key_id=entry["key_id"],
        expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
    )


def _expired(caller: Caller) -> bool:
    return caller.expires_at is not None and caller.expires_at <= datetime.now(UTC)


class SessionTokens:
    """Resolves member and staff session tokens through identity, remembered for a moment."""

    def __init__(self) -> None:
        self._local: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def resolve(self, token: str, fresh: bool = False) -> Caller:
        """`fresh` asks identity even when this process remembers the token: a revocation
        anywhere is seen at once."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self._local.get(digest)
        if hit and hit[0] > now and not fresh:
            return hit[1]
        found = clients().identity.session(token)
        expires_at = found.ends
        if found.kind == "member":
            caller = Caller(kind="member", member_id=found.subject_id, expires_at=expires_at)
        elif found.kind == "till":
            caller = Caller(kind="till", key_id=found.subject_id, expires_at=expires_at)
        else:
            caller = Caller(
                kind="staff", staff_id=found.subject_id, role=found.role, expires_at=expires_at
            )
        remaining = (expires_at - datetime.now(UTC)).total_seconds()
        with self._lock:
            if len(self._local) > 10_000:
                self._local.clear()
            self._local[digest] = (now + min(SESSION_LOCAL_TTL, remaining), caller)
        return caller

    def revoke(self, token: str) -> None:
        """Ends the session everywhere (within SESSION_LOCAL_TTL) and here at once."""
        clients().identity.revoke_session(token)
        with self._lock:
            self._local.pop(hashlib.sha256(token.encode()).hexdigest(), None)


def set_session_cookie(response: Response, token: str, expires_at: datetime) -> None:
    """The session for web pages: not readable by scripts, not sent cross-site on POSTs."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires_at,
        httponly=True,
        secure=behind_tls(),
        samesite="Lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, secure=behind_tls(), samesite="Lax", path="/"
    )


def behind_tls() -> bool:
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "") == "https"
