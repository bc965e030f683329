"""The staff login throttle: attempts counted per account and per client address in identity's
database, so that every gateway process and replica shares one count, with or without Redis.

An attempt takes a place in the count before its password is checked, by one statement that
adds it only while the count is under the limit: concurrent tries cannot all see room left. A
login that succeeds gives its place back, so what stays counted is failures. A window lasts
`window_seconds` from the first attempt in it; rows of windows long over are deleted now and
then (`forget_expired`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from services.identity import repository
from services.identity.identifiers import PiiHasher
from services.runtime.db import Database, utcnow
from services.runtime.errors import ResourceExhausted


@dataclass(frozen=True)
class Reservation:
    """The places one login took: each counter's key and the start of the window it counted in."""

    places: tuple[tuple[str, datetime], ...]


class LoginThrottle:
    def __init__(
        self,
        database: Database,
        hasher: PiiHasher,
        limit: int,
        window_seconds: int = 60,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._clock = clock
        self._hash = hasher
        self.limit = limit
        self._window = timedelta(seconds=window_seconds)

    def reserve(self, account: str, client: str) -> Reservation:
        """Counts one attempt for the account and for the client address (when known), or
        raises 429 `login-throttled` and counts nothing when either has no room left."""
        keys = [self._hash("login-account", account)]
        if client:
            keys.append(self._hash("login-client", client))
        now = self._clock()
        places: list[tuple[str, datetime]] = []
        # One transaction, accounts before addresses: a refusal counts nothing, and two logins
        # never wait on each other's rows in opposite orders.
        with self._db.write() as session:
            for key in keys:
                window_start = repository.take_login_attempt(
                    session, key, now, now - self._window, self.limit
                )
                if window_start is None:
                    raise self._refusal(session, key, now)
                places.append((key, window_start))
        return Reservation(tuple(places))

    def release(self, reservation: Reservation) -> None:
        """Gives back the places of a login that succeeded."""
        with self._db.write() as session:
            for key, window_start in reservation.places:
                repository.give_back_login_attempt(session, key, window_start)

    def forget_expired(self) -> int:
        """Deletes the counts of windows that are over; answers how many."""
        with self._db.write() as session:
            return repository.delete_login_windows(session, self._clock() - self._window)

    def _refusal(self, session: Session, key: str, now: datetime) -> ResourceExhausted:
        window_start = repository.login_window_start(session, key)
        ends = (window_start or now) + self._window
        return ResourceExhausted(
            "too many failed logins, wait a minute",
            math.ceil((ends - now).total_seconds()),
            code="login-throttled",
        )
