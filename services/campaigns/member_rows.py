"""The member rows and purchases one page of events touches, held in memory while the page is
applied and written back with a few set-based statements.

Each member row is read once per page; at the end only the columns that changed are written,
as the ORM would, so a concurrent writer of other columns (feedback, another feed) keeps its
changes. New purchases are inserted in one statement, refunds of stored ones updated after them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.repository import MEMBERS

COLUMNS = tuple(column.name for column in MEMBERS.columns)
# A new member row as the ORM would insert it: the columns' scalar defaults, else NULL.
DEFAULTS = {
    column.name: column.default.arg
    if column.default is not None and column.default.is_scalar
    else None
    for column in MEMBERS.columns
}

PurchaseKey = tuple[str, str]


class MemberState(dict[str, Any]):
    """One member row as a dict whose columns read and write as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class PageRows:
    """The member rows and purchases of one page, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._stored: dict[uuid.UUID, dict[str, Any]] = {}
        self._rows: dict[uuid.UUID, MemberState] = {}
        # Every member asked for, with a row or not: a member new to the view is read once.
        self._looked_up: set[uuid.UUID] = set()
        self._known_purchases: set[PurchaseKey] = set()
        self._new_purchases: dict[PurchaseKey, dict[str, Any]] = {}
        self._refunds: list[dict[str, Any]] = []

    def load(self, member_ids: Iterable[uuid.UUID], purchases: Iterable[PurchaseKey]) -> None:
        """Reads the given members' rows and which of the given purchases are stored."""
        ids = set(member_ids) - self._looked_up
        if ids:
            self._looked_up |= ids
            for row in repository.members_by_id(self._session, ids):
                self._stored[row["member_id"]] = row
                self._rows[row["member_id"]] = MemberState(row)
        keys = set(purchases)
        if keys:
            self._known_purchases.update(repository.stored_purchases(self._session, keys))

    def member(self, member_id: uuid.UUID, bucket: int) -> MemberState:
        """The member's row, a new one (with its `bucket`) when the view has none yet."""
        if member_id not in self._looked_up:
            self.load([member_id], ())
        row = self._rows.get(member_id)
        if row is None:
            row = MemberState(DEFAULTS, member_id=member_id, bucket=bucket)
            self._rows[member_id] = row
        return row

    def add_purchase(self, key: PurchaseKey, values: dict[str, Any]) -> bool:
        """Records a purchase once; False when it is already known."""
        if key in self._known_purchases:
            return False
        self._known_purchases.add(key)
        self._new_purchases[key] = {"store_id": key[0], "transaction_id": key[1], **values}
        return True

    def refund_purchase(self, key: PurchaseKey, amount: int) -> None:
        new = self._new_purchases.get(key)
        if new is not None:
            new["refunded_minor"] += amount
        else:
            self._refunds.append({"s": key[0], "t": key[1], "amount": amount})

    def flush_purchases(self) -> None:
        """Writes the purchases gathered so far (before a statement that reads them)."""
        if self._new_purchases:
            repository.insert_purchases(self._session, list(self._new_purchases.values()))
            self._new_purchases.clear()
        if self._refunds:
            repository.refund_purchases(self._session, self._refunds)
            self._refunds.clear()

    def flush(self) -> None:
        """Writes every change: new members, changed columns of stored ones, purchases."""
        new = [row for key, row in self._rows.items() if key not in self._stored]
        if new:
            repository.insert_members(self._session, [dict(row) for row in new])
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for key, stored in self._stored.items():
            row = self._rows[key]
            names = tuple(name for name in COLUMNS if row[name] != stored[name])
            if names:
                changed[names].append({"id": key, **{name: row[name] for name in names}})
        for names, params in changed.items():
            repository.update_members(self._session, names, params)
        for key, row in self._rows.items():
            self._stored[key] = dict(row)
        self.flush_purchases()
