"""Members' balances as points keeps them in Redis: points alone writes and invalidates them
(services.points.balance_cache); the gateway may answer a balance read from one without asking
points. Here are their keys, their form, and the one rule of when an entry may be used.

An entry holds the member's generation and the global epoch as they were when points read the
database for it, points' own view of the member, and, for a member who is not a merged
duplicate, the `GetBalanceResponse` points answers for them, serialized (all the gateway
reads). Points moves the member's generation with every committed change, and the epoch when
an invalidation was lost; an entry is current while both still hold what it recorded.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from services.runtime.cache import Cache

EPOCH = "points:epoch"
TTL_SECONDS = 60


def generation_key(member_id: uuid.UUID) -> str:
    return f"points:gen:{member_id}"


def entry_key(member_id: uuid.UUID) -> str:
    return f"points:view:{member_id}"


def encode(
    generation: bytes | None, epoch: bytes | None, view: dict[str, Any], answer: bytes | None
) -> str:
    """An entry for a view read under `generation` and `epoch` (as Redis held them)."""
    entry: dict[str, Any] = {"gen": _text(generation), "epoch": _text(epoch), "view": view}
    if answer is not None:
        entry["answer"] = base64.b64encode(answer).decode()
    return json.dumps(entry, default=str, separators=(",", ":"))


def current(found: list[bytes | None]) -> dict[str, Any] | None:
    """The entry of [generation, epoch, entry] (as read together from Redis), if it is still
    current."""
    generation, epoch, cached = found
    if cached is None:
        return None
    entry = json.loads(cached)
    if entry["gen"] != _text(generation) or entry["epoch"] != _text(epoch):
        return None
    return entry


class PublishedBalances:
    """The gateway's reading of the balances points keeps (`cache`: on points' prefix)."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    def answer(self, member_id: str) -> bytes | None:
        """Points' current answer to GetBalance for `member_id`, or None: not cached, changed
        since, a merged duplicate's, not an id, or Redis unavailable (then ask points)."""
        if not self._cache.enabled:
            return None
        try:
            member = uuid.UUID(member_id)
        except ValueError:
            return None
        found = self._cache.get_many(generation_key(member), EPOCH, entry_key(member))
        if found is None:
            self._cache.count("view", None)
            return None
        entry = current(found)
        answer = entry.get("answer") if entry is not None else None
        self._cache.count("view", answer is not None)
        return base64.b64decode(answer) if answer is not None else None

    def close(self) -> None:
        self._cache.close()


def _text(value: bytes | None) -> str:
    return value.decode() if value is not None else ""
