"""Rate limits, counted in Redis with `Cache.hit` (fixed windows, shared by every gateway process).

Each request counts against one bucket: its POS key, its member, or else its client IP (staff
and anonymous callers, and any request whose credentials were refused). The admin token is not
limited. Past the limit: 429 `rate-limited` with `Retry-After`. Without Redis nothing is limited.
Counters are keyed by a key id, a member id or an address, never by a credential.
"""

from __future__ import annotations

from flask import current_app, request

from gateway.auth import Caller
from gateway.problems import Problem
from services.runtime.cache import RateDecision


def client_ip() -> str:
    return request.remote_addr or "unknown"


def too_many(decision: RateDecision, code: str, detail: str) -> Problem:
    wait = max(decision.retry_after, 1)
    return Problem(429, code, detail, headers={"Retry-After": str(wait)}, retry_after=wait)


def charge(caller: Caller | None) -> None:
    """Counts this request against its caller's bucket; a 429 problem once it is used up."""
    config = current_app.config["LOYALTY"]
    if caller is not None and caller.kind == "admin":
        return
    if caller is not None and caller.kind == "pos":
        bucket, limit = f"pos:{caller.key_id}", config.rate_per_pos_key
    elif caller is not None and caller.kind == "member":
        bucket, limit = f"member:{caller.member_id}", config.rate_per_member
    else:
        bucket, limit = f"ip:{client_ip()}", config.rate_per_ip
    cache = current_app.extensions["cache"]
    decision = cache.hit(f"requests:{bucket}", limit, config.rate_window_seconds)
    if not decision.allowed:
        raise too_many(decision, "rate-limited", "too many requests, try again later")
