"""Stores and the API keys their POS terminals authenticate with.

A key is valid until revoked. Rotating a key issues a new one and gives the old one a grace
period (`expires_at`), so that both work while the tills are switched over.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from services.identity import audit, repository
from services.identity.models import ApiKey, Store
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from services.runtime.staff_actions import (
    KEY_ISSUE,
    KEY_REVOKE,
    KEY_ROTATE,
    STORE_CLOSE,
    STORE_CREATE,
    STORE_RENAME,
)

KEY_PREFIX = "lk_"
MAX_GRACE = timedelta(days=30)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str


@dataclass(frozen=True)
class Rotation:
    issued: IssuedKey
    replaced: ApiKey


def _store_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidArgument("store name must be 1 to 200 characters", code="invalid-name")
    return name


def _uuid(value: str, what: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found", code=code) from None


MAX_STORES_ASKED = 200


class Terminals:
    def __init__(self, database: Database) -> None:
        self._db = database

    def stores(self) -> list[Store]:
        with self._db.read() as session:
            return repository.stores(session)

    def create_store(self, name: str, actor: str = "") -> Store:
        name = _store_name(name)
        with self._db.write() as session:
            store = Store(name=name)
            session.add(store)
            session.flush()
            audit.record(session, actor, STORE_CREATE, subject=str(store.id), detail=name)
            return store

    def stores_of(self, store_ids: list[str]) -> list[Store]:
        """The stores of these ids that exist; an id that is not a store's is left out."""
        if len(store_ids) > MAX_STORES_ASKED:
            raise InvalidArgument(
                f"ask for at most {MAX_STORES_ASKED} stores at once", code="invalid-request"
            )
        parsed = []
        for value in store_ids:
            with contextlib.suppress(ValueError):
                parsed.append(uuid.UUID(value))
        if not parsed:
            return []
        with self._db.read() as session:
            return repository.stores_by_ids(session, parsed)

    def rename_store(self, store_id: str, name: str, actor: str) -> Store:
        name = _store_name(name)
        with self._db.write() as session:
            store = self._store(session, store_id)
            if store.name != name:
                audit.record(session, actor, STORE_RENAME, subject=store_id, detail=name)
                store.name = name
            return store

    def close_store(self, store_id: str, actor: str) -> tuple[Store, list[str]]:
        """Closes the store (again: nothing more) and revokes its keys at once; the store and
        the hashes of the keys revoked now (to forget them)."""
        with self._db.write() as session:
            store = self._store(session, store_id)
            revoked: list[str] = []
            if store.closed_at is None:
                now = utcnow()
                store.closed_at = now
                for key in repository.api_keys_of_store(session, store.id):
                    if key.revoked_at is None:
                        key.revoked_at = now
                        revoked.append(key.key_hash)
                audit.record(session, actor, STORE_CLOSE, subject=store_id)
            return store, revoked

    def _store(self, session: Session, store_id: str) -> Store:
        store = repository.store_by_id(session, _uuid(store_id, "store", "store-not-found"))
        if store is None:
            raise NotFound("store not found", code="store-not-found")
        return store

    def create_api_key(self, store_id: str, actor: str = "") -> IssuedKey:
        parsed = _uuid(store_id, "store", "store-not-found")
        with self._db.write() as session:
            store = repository.store_by_id(session, parsed)
            if store is None:
                raise NotFound("store not found", code="store-not-found")
            if store.closed_at is not None:
                raise FailedPrecondition("this store is closed", code="store-closed")
            issued = self._issue(session, parsed)
            audit.record(session, actor, KEY_ISSUE, subject=issued.key_id, detail=store_id)
            return issued

    def list_api_keys(self, store_id: str) -> list[ApiKey]:
        parsed = _uuid(store_id, "store", "store-not-found")
        with self._db.read() as session:
            if repository.store_by_id(session, parsed) is None:
                raise NotFound("store not found", code="store-not-found")
            return repository.api_keys_of_store(session, parsed)

    def revoke_api_key(self, store_id: str, key_id: str, actor: str = "") -> ApiKey:
        with self._db.write() as session:
            key = self._store_key(session, store_id, key_id)
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                audit.record(session, actor, KEY_REVOKE, subject=key_id, detail=store_id)
            return key

    def rotate_api_key(
        self, store_id: str, key_id: str, grace: timedelta, actor: str = ""
    ) -> Rotation:
        if not timedelta(0) <= grace <= MAX_GRACE:
            raise InvalidArgument("the grace period must be 0 to 30 days", code="invalid-grace")
        now = utcnow()
        with self._db.write() as session:
            old = self._store_key(session, store_id, key_id)
            if old.revoked_at is not None or (old.expires_at and old.expires_at <= now):
                raise FailedPrecondition(
                    "this key is no longer valid: issue a new one instead",
                    code="api-key-inactive",
                )
            ends = now + grace
            old.expires_at = min(old.expires_at, ends) if old.expires_at else ends
            issued = self._issue(session, old.store_id)
            audit.record(
                session, actor, KEY_ROTATE, subject=key_id, detail=f"{issued.key_id} {store_id}"
            )
            return Rotation(issued=issued, replaced=old)

    def _store_key(self, session: Session, store_id: str, key_id: str) -> ApiKey:
        """The key, locked for update, if it belongs to the store; 404 otherwise."""
        store = _uuid(store_id, "store", "store-not-found")
        key = repository.api_key_for_update(session, _uuid(key_id, "key", "api-key-not-found"))
        if key is None or key.store_id != store:
            raise NotFound("this store has no such key", code="api-key-not-found")
        return key

    def _issue(self, session: Session, store_id: uuid.UUID) -> IssuedKey:
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(store_id=store_id, key_hash=key_hash(api_key))
        session.add(key)
        session.flush()
        return IssuedKey(key_id=str(key.id), api_key=api_key)

    def authenticate(self, api_key: str) -> ApiKey:
        if not api_key.startswith(KEY_PREFIX) or len(api_key) > 100:
            raise Unauthenticated("invalid API key", code="invalid-api-key")
        with self._db.read() as session:
            key = repository.active_key_by_hash(session, key_hash(api_key))
        if key is None or (key.expires_at is not None and key.expires_at <= utcnow()):
            raise Unauthenticated("invalid API key", code="invalid-api-key")
        return key
