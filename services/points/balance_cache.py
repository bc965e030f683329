"""Members' points as they read them (balances, expiring points, tier), cached in Redis and
never served stale.

Every committed change bumps the member's generation counter (`after_commit`, the same code
path that commits); a cached view records the generation it was read under and is used only
while that generation holds. A reader puts a view back only if the generation has not moved
since it read the database (atomically, in Redis). If a process cannot bump a generation
because Redis is unreachable, it bumps a global epoch as soon as Redis answers again, retiring
every view cached before. With Redis down, reads go to the database.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.orm import Session

from services.points.balances import PointsView, TierView
from services.points.ledger import TOUCHED_MEMBERS
from services.runtime.cache import Cache
from services.runtime.logs import log

logger = logging.getLogger(__name__)
EPOCH = "points:epoch"
TTL_SECONDS = 60


class BalanceCache:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._lost_invalidation = False
        self._lock = threading.Lock()

    def invalidate(self, member_ids: Iterable[uuid.UUID]) -> None:
        keys = [f"points:gen:{m}" for m in member_ids]
        if keys and not self._cache.incr_many(*keys):
            with self._lock:
                self._lost_invalidation = True
            log(logger, "cache invalidation lost; the epoch moves when Redis is back")

    def on_commit(self, session: Session) -> None:
        members = session.info.pop(TOUCHED_MEMBERS, None)
        if members:
            self.invalidate(members)

    def _settle_epoch(self) -> bool:
        """False while an invalidation lost earlier cannot be made good yet."""
        if not self._lost_invalidation:
            return True
        with self._lock:
            if self._lost_invalidation and self._cache.incr_many(EPOCH):
                self._lost_invalidation = False
            return not self._lost_invalidation

    def read(self, member_id: uuid.UUID, load: Callable[[], PointsView]) -> PointsView:
        if not self._cache.enabled:
            return load()
        if not self._settle_epoch():
            self._cache.count("view", None)
            return load()
        gen_key, view_key = f"points:gen:{member_id}", f"points:view:{member_id}"
        found = self._cache.get_many(gen_key, EPOCH, view_key)
        if found is None:
            self._cache.count("view", None)
            return load()
        generation, epoch, cached = found
        if cached is not None:
            entry = json.loads(cached)
            if entry["gen"] == _text(generation) and entry["epoch"] == _text(epoch):
                self._cache.count("view", True)
                return _view(entry["view"])
        self._cache.count("view", False)
        view = load()
        entry = {"gen": _text(generation), "epoch": _text(epoch), "view": asdict(view)}
        self._cache.set_if_unchanged(
            {gen_key: generation, EPOCH: epoch},
            view_key,
            json.dumps(entry, default=str, separators=(",", ":")),
            TTL_SECONDS,
        )
        return view


def _text(value: bytes | None) -> str:
    return value.decode() if value is not None else ""


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
