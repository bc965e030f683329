"""The shared Redis cache: derived data only, never the source of truth.

Every call has a short timeout and never raises: a miss and a dead Redis look the same to the
caller, which then reads its database. After a failure the cache stays off for a few seconds so
that a dead Redis costs one timeout, not one per call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.connection import AbstractConnection

from services.runtime import metrics
from services.runtime.logs import log

logger = logging.getLogger(__name__)
T = TypeVar("T")
_UNAVAILABLE: Any = object()


class Cache:
    def __init__(
        self,
        url: str | None,
        prefix: str,
        timeout: float = 0.15,
        retry_after: float = 2.0,
    ) -> None:
        self._prefix = prefix
        # For the metrics: whose cache this is (the prefix's last part: gateway, points, ...).
        self._name = prefix.rsplit(":", 1)[-1]
        self._retry_after = retry_after
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        if url:
            self._client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                health_check_interval=0,
                retry_on_timeout=False,
            )
        # Each thread's own connection, which every command goes on (`_own_connection`), and
        # all of them, to close.
        self._own = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def _usable(self) -> redis.Redis | None:
        if self._client is None or time.monotonic() < self._down_until:
            return None
        return self._client

    def _failed(self, error: Exception) -> None:
        with self._lock:
            was_up = time.monotonic() >= self._down_until
            self._down_until = time.monotonic() + self._retry_after
        if was_up:
            log(logger, "cache unavailable", logging.WARNING, error=type(error).__name__)

    def _run(self, operation: Callable[[redis.Redis], T], fallback: T) -> T:
        client = self._usable()
        if client is None:
            return fallback
        try:
            return operation(client)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return fallback

    def get(self, key: str) -> bytes | None:
        value = self._run(lambda c: self._command(c, "GET", self._key(key)), _UNAVAILABLE)
        if value is _UNAVAILABLE:
            self.count(key, None)
            return None
        self.count(key, value is not None)
        return value

    def count(self, key: str, hit: bool | None) -> None:
        """Counts a look-up of `key` (by its kind: the part before the first colon) for the
        hit ratio: a hit, a miss, or None when the cache could not be asked."""
        result = "unavailable" if hit is None or not self.enabled else ("hit" if hit else "miss")
        metrics.count_lookup(self._name, key.split(":", 1)[0], result)

    def set(self, key: str, value: bytes | str, ttl_seconds: int) -> None:
        self._run(lambda c: self._command(c, "SET", self._key(key), value, "EX", ttl_seconds), None)

    def claim(self, key: str, value: str, ttl_seconds: int) -> bool | None:
        """Sets `key` only if it is absent: True when this caller took it, False when another
        holds it, None when the cache cannot be asked."""
        taken = self._run(
            lambda c: self._command(c, "SET", self._key(key), value, "EX", ttl_seconds, "NX"),
            _UNAVAILABLE,
        )
        return None if taken is _UNAVAILABLE else bool(taken)

    def delete(self, *keys: str) -> None:
        if keys:
            self._run(lambda c: self._command(c, "DEL", *(self._key(k) for k in keys)), None)

    def get_json(self, key: str) -> Any | None:
        raw = self.get(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any, ttl_seconds: int) -> None:
        self.set(key, json.dumps(value, separators=(",", ":")), ttl_seconds)

    def get_many(self, *keys: str) -> list[bytes | None] | None:
        """The values of `keys`, or None when the cache cannot be asked (not counted as a
        look-up: the caller knows what a hit is)."""
        return self._run(lambda c: self._command(c, "MGET", *(self._key(k) for k in keys)), None)

    def incr_many(self, *keys: str) -> bool:
        """Increments counters; False when the cache could not be reached."""
        if not keys:
            return True

        def incr(client: redis.Redis) -> bool:
            self._commands(client, [("INCR", self._key(key)) for key in keys])
            return True

        return self._run(incr, False)

    def set_if_unchanged(
        self, guards: dict[str, bytes | None], key: str, value: str, ttl_seconds: int
    ) -> None:
        """Sets `key` only if every guard key still holds the value given (None: absent),
        atomically, so a reader cannot put back what a writer has just invalidated."""
        names = list(guards)
        self._run(
            lambda c: self._script(
                c,
                _SET_IF_UNCHANGED,
                _SET_IF_UNCHANGED_SHA,
                [*(self._key(n) for n in names), self._key(key)],
                [*((guards[n] or b"") for n in names), value, ttl_seconds],
            ),
            None,
        )

    def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Counts one attempt against `key` in a fixed window of `window_seconds`.

        Without Redis every attempt is allowed: a rate limit protects the suite, and losing the
        cache must not turn into refusing every member and till.
        """

        def count(client: redis.Redis) -> RateDecision:
            counter = self._key(f"rate:{key}")
            used, ttl = self._script(client, _HIT, _HIT_SHA, [counter], [window_seconds])
            ttl = int(ttl) if int(ttl) > 0 else window_seconds
            return RateDecision(int(used) <= limit, int(used), limit, ttl)

        return self._run(count, RateDecision(True, 0, limit, 0))

    def _command(self, client: redis.Redis, *command: Any) -> Any:
        """One command on this thread's own connection, and its answer."""
        connection = self._own_connection(client)
        connection.send_command(*command)
        return connection.read_response()

    def _commands(self, client: redis.Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Several commands sent together on this thread's own connection, and their answers."""
        connection = self._own_connection(client)
        connection.send_packed_command(connection.pack_commands(commands))
        try:
            return [connection.read_response() for _ in commands]
        except redis.RedisError:
            # An error answer leaves the later ones unread: they must not answer the next call.
            connection.disconnect()
            raise

    def _script(
        self, client: redis.Redis, script: str, sha: str, keys: list[str], args: list[Any]
    ) -> Any:
        """A Lua script's answer: sent by its digest, in full only when Redis does not know it
        yet."""
        try:
            return self._command(client, "EVALSHA", sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return self._command(client, "EVAL", script, len(keys), *keys, *args)

    def _own_connection(self, client: redis.Redis) -> AbstractConnection:
        """This thread's connection: used directly, it costs half what a command through the
        pool does (taking a connection and checking it has nothing left to read, then giving it
        back). The connection itself disconnects on any error, so an answer that came late is
        never read as the next one's; it connects again on its next command."""
        held = getattr(self._own, "held", None)
        if held is None:
            pool = client.connection_pool
            held = self._own.held = _Held(pool.connection_class(**pool.connection_kwargs))
            # A thread that ends drops its holder, and with it its connection.
            weakref.finalize(held, held.connection.disconnect)
            with self._lock:
                self._held.add(held)
        return held.connection

    def ping(self) -> bool:
        return self._run(lambda c: bool(self._command(c, "PING")), False)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        with self._lock:
            held = list(self._held)
        for each in held:
            each.connection.disconnect()


class _Held:
    """A thread's own connection, held by that thread alone."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: AbstractConnection) -> None:
        self.connection = connection


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    used: int
    limit: int
    # Seconds until the window ends: what a refused caller should wait (`Retry-After`).
    retry_after: int


# KEYS: the counter. ARGV: the window in seconds. Returns the count so far and its time to live.
_HIT = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {used, redis.call('TTL', KEYS[1])}
"""
_HIT_SHA = hashlib.sha1(_HIT.encode()).hexdigest()

# KEYS: the guard keys, then the key to set. ARGV: each guard's expected value ("" for
# absent), then the value and its time to live.
_SET_IF_UNCHANGED = """
local guards = #KEYS - 1
for i = 1, guards do
  local current = redis.call('GET', KEYS[i]) or ''
  if current ~= ARGV[i] then return 0 end
end
redis.call('SET', KEYS[#KEYS], ARGV[guards + 1], 'EX', ARGV[guards + 2])
return 1
"""
_SET_IF_UNCHANGED_SHA = hashlib.sha1(_SET_IF_UNCHANGED.encode()).hexdigest()
