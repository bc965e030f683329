"""Who is calling: the admin (one token from the environment) or a store's POS terminal.

A POS key is checked by the identity service; the answer is kept briefly in this process and in
Redis so that the till does not pay a hop per request. Keys are looked up by their SHA-256 only.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import asdict, dataclass

import grpc
from flask import current_app, request

from gateway.problems import Problem, from_rpc_error
from loyalty.identity.v1 import identity_pb2
from services.runtime.cache import Cache

LOCAL_TTL = 5.0
SHARED_TTL = 30


@dataclass(frozen=True)
class PosCaller:
    store_id: str
    key_id: str


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthenticated", "send `Authorization: Bearer <token>`")
    return token.strip()


def is_admin_token(token: str) -> bool:
    expected = current_app.config["LOYALTY"].admin_token
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def require_admin() -> None:
    """Nothing for the admin; a 401 problem for anyone else."""
    if not is_admin_token(bearer_token()):
        raise Problem(401, "unauthenticated", "the admin token is not valid")


class PosKeys:
    """Resolves POS keys to their store, with a short-lived cache in front of identity."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._local: dict[str, tuple[float, PosCaller]] = {}
        self._lock = threading.Lock()

    def resolve(self, api_key: str) -> PosCaller:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        now = time.monotonic()
        hit = self._local.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        cached = self._cache.get_json(f"poskey:{digest}")
        if cached is not None:
            caller = PosCaller(**cached)
        else:
            try:
                response = current_app.extensions["upstreams"].identity.AuthenticateApiKey(
                    identity_pb2.AuthenticateApiKeyRequest(api_key=api_key)
                )
            except grpc.RpcError as error:
                raise from_rpc_error(error) from None
            caller = PosCaller(store_id=response.store_id, key_id=response.key_id)
            self._cache.set_json(f"poskey:{digest}", asdict(caller), SHARED_TTL)
        with self._lock:
            if len(self._local) > 10_000:
                self._local.clear()
            self._local[digest] = (now + LOCAL_TTL, caller)
        return caller


def require_pos() -> PosCaller:
    token = bearer_token()
    return current_app.extensions["pos_keys"].resolve(token)


def require_pos_or_admin() -> PosCaller | None:
    """The POS caller, or None for the admin."""
    token = bearer_token()
    if is_admin_token(token):
        return None
    return current_app.extensions["pos_keys"].resolve(token)


AUTHENTICATORS = {"admin": require_admin, "pos": require_pos, "pos-or-admin": require_pos_or_admin}
