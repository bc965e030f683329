"""Applying a request exactly once, however often and however concurrently it arrives: the one
idempotency rule of every service.

Every such request carries the caller's own id. Its record (with the request's fingerprint and
the answer given) is written under a unique constraint in the same transaction as the change:
a retry finds it and gets the original answer; a copy racing the first either finds it once it
holds the member's lock, or loses on the constraint and then finds it. The same id with another
request is refused and changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, Self, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.runtime.db import Database
from services.runtime.errors import FailedPrecondition, InvalidArgument

T = TypeVar("T")
_CALLER_ID = re.compile(r"[A-Za-z0-9._:/\-]{1,100}")


def check_caller_id(value: str, name: str) -> None:
    """The caller's own id for a request (`transaction_id`, ...): 1 to 100 safe characters."""
    if not _CALLER_ID.fullmatch(value):
        raise InvalidArgument(
            f"{name} must be 1 to 100 letters, digits or . _ : / -",
            code=f"invalid-{name.replace('_', '-')}",
        )


class JsonRecord:
    """A frozen dataclass kept as the JSON answer of an applied request."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Once(Generic[T]):
    database: Database
    # Finds the request's record (anything with `request_hash` and `result`), or None.
    lookup: Callable[[Session], Any]
    fingerprint: str
    decode: Callable[[str], T]
    # How the caller names the id, for the refusal: "refund_id", ...
    id_name: str

    def replay(self, session: Session) -> T | None:
        """The original answer if the request was applied before (call it again once the
        member is locked: a concurrent copy may have committed meanwhile)."""
        return self.answer(self.lookup(session))

    def answer(self, earlier: Any) -> T | None:
        """The original answer kept in `earlier` (a record as `lookup` finds it, or None)."""
        if earlier is None:
            return None
        if earlier.request_hash != self.fingerprint:
            raise FailedPrecondition(
                f"this {self.id_name} was already used for a different request",
                code="idempotency-mismatch",
            )
        return self.decode(earlier.result)

    def run(self, apply: Callable[[Session], T], checked: bool = False) -> T:
        """`apply` in a write transaction, unless the request was applied already (`checked`:
        the caller has just asked `replay` itself)."""
        if not checked:
            with self.database.read() as session:
                earlier = self.replay(session)
            if earlier is not None:
                return earlier
        for attempt in range(2):
            try:
                with self.database.write() as session:
                    return apply(session)
            except IntegrityError:
                with self.database.read() as session:
                    earlier = self.replay(session)
                if earlier is not None:
                    return earlier
                if attempt:
                    raise
                # Not this request's own record: another writer created a row this one also
                # creates when missing (a member's row, say). Once more, it is there now.
        raise AssertionError("unreachable")
