"""Members' points as they read them (balances, expiring points, tier), cached in Redis and
never served stale; the entries' keys and form are services.runtime.published_balances, which
the gateway reads too.

Every committed change bumps the member's generation counter (`after_commit`, the same code
path that commits); a cached view records the generation it was read under and is used only
while that generation holds. A reader puts a view back only if the generation has not moved
since it read the database (atomically, in Redis). If a process cannot bump a generation
because Redis is unreachable, it bumps a global epoch as soon as Redis answers again (at its
next read or change, or at the latest at its next `settle`), retiring every view cached before.
With Redis down, reads go to the database.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.orm import Session

from services.points.balances import PointsView, TierView
from services.points.ledger import TOUCHED_MEMBERS
from services.runtime import published_balances as published
from services.runtime.cache import Cache
from services.runtime.logs import log

logger = logging.getLogger(__name__)
# What points answers for a member's view (GetBalanceResponse, serialized), kept beside it.
Publish = Callable[[uuid.UUID, PointsView], bytes]


class BalanceCache:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        # Set once the servicer's answer can be built (it needs the balances this cache serves).
        self.publish: Publish | None = None
        self._lost_invalidation = False
        self._lock = threading.Lock()

    def invalidate(self, member_ids: Iterable[uuid.UUID]) -> None:
        keys = [published.generation_key(m) for m in member_ids]
        self.settle()
        if keys and not self._cache.incr_many(*keys):
            with self._lock:
                self._lost_invalidation = True
            log(logger, "cache invalidation lost; the epoch moves when Redis is back")

    def on_commit(self, session: Session) -> None:
        members = session.info.pop(TOUCHED_MEMBERS, None)
        if members:
            self.invalidate(members)

    def settle(self) -> bool:
        """Makes good an invalidation lost earlier, if Redis answers now (the epoch moves);
        False while it cannot be made good yet. Cheap when nothing was lost: run it often."""
        if not self._lost_invalidation:
            return True
        with self._lock:
            if self._lost_invalidation and self._cache.incr_many(published.EPOCH):
                self._lost_invalidation = False
            return not self._lost_invalidation

    def read(self, member_id: uuid.UUID, load: Callable[[], PointsView]) -> PointsView:
        if not self._cache.enabled:
            return load()
        if not self.settle():
            self._cache.count("view", None)
            return load()
        gen_key, view_key = published.generation_key(member_id), published.entry_key(member_id)
        found = self._cache.get_many(gen_key, published.EPOCH, view_key)
        if found is None:
            self._cache.count("view", None)
            return load()
        entry = published.current(found)
        if entry is not None:
            self._cache.count("view", True)
            return _view(entry["view"])
        self._cache.count("view", False)
        view = load()
        generation, epoch, _ = found
        answer = None
        if self.publish is not None and not view.merged_into:
            answer = self.publish(member_id, view)
        self._cache.set_if_unchanged(
            {gen_key: generation, published.EPOCH: epoch},
            view_key,
            published.encode(generation, epoch, asdict(view), answer),
            published.TTL_SECONDS,
        )
        return view


def _view(data: dict) -> PointsView:
    tier = data["tier"]
    review_at = datetime.fromisoformat(tier["review_at"]) if tier["review_at"] else None
    return PointsView(
        available=data["available"],
        pending=data["pending"],
        held=data["held"],
        debt=data["debt"],
        expiring=tuple((datetime.fromisoformat(when), points) for when, points in data["expiring"]),
        tier=TierView(**{**tier, "review_at": review_at}),
        merged_into=data.get("merged_into", ""),
        known=data.get("known", False),
    )
