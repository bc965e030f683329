"""Stores and the API keys their POS terminals authenticate with."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from services.identity import repository
from services.identity.models import ApiKey, Store
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound, Unauthenticated

KEY_PREFIX = "lk_"


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str


class Terminals:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create_store(self, name: str) -> Store:
        name = " ".join((name or "").split())
        if not name or len(name) > 200:
            raise InvalidArgument("store name must be 1 to 200 characters", code="invalid-name")
        with self._db.write() as session:
            store = Store(name=name)
            session.add(store)
            session.flush()
            return store

    def create_api_key(self, store_id: str) -> IssuedKey:
        try:
            parsed = uuid.UUID(store_id)
        except ValueError:
            raise NotFound("store not found", code="store-not-found") from None
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as session:
            if repository.store_by_id(session, parsed) is None:
                raise NotFound("store not found", code="store-not-found")
            key = ApiKey(store_id=parsed, key_hash=key_hash(api_key))
            session.add(key)
            session.flush()
            return IssuedKey(key_id=str(key.id), api_key=api_key)

    def authenticate(self, api_key: str) -> ApiKey:
        if not api_key.startswith(KEY_PREFIX) or len(api_key) > 100:
            raise Unauthenticated("invalid API key", code="invalid-api-key")
        with self._db.read() as session:
            key = repository.active_key_by_hash(session, key_hash(api_key))
        if key is None:
            raise Unauthenticated("invalid API key", code="invalid-api-key")
        return key
