"""A pooled PostgreSQL connection is checked before use only after lying idle, and one that
died while idle (a database restart, an idle timeout) is replaced before a call sees it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.runtime import db
from services.runtime.db import Database
from tests.support import throwaway_database


@pytest.fixture
def url() -> Iterator[str]:
    # A database of its own: the test cuts every session of it.
    with throwaway_database("loyalty_test_pool") as plain:
        yield plain.replace("postgresql://", "postgresql+psycopg://")


def _terminate_sessions(url: str) -> int:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    name = plain.rsplit("/", 1)[1]
    with psycopg.connect(plain.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _select_one(database: Database) -> int:
    with database.read() as session:
        return session.execute(text("SELECT 1")).scalar_one()


@pytest.mark.parametrize(
    ("idle_before_ping", "first_call_fails"),
    [
        # Lying idle: pinged at checkout, replaced, the call never sees the dead connection.
        (0.0, False),
        # In steady use: not pinged, so the call finds it dead; the pool then replaces it.
        (3600.0, True),
    ],
)
def test_a_connection_cut_is_replaced(
    url: str, monkeypatch: pytest.MonkeyPatch, idle_before_ping: float, first_call_fails: bool
) -> None:
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", idle_before_ping)
    database = Database(url, pool_size=1)
    try:
        assert _select_one(database) == 1
        assert _terminate_sessions(url) >= 1
        if first_call_fails:
            with pytest.raises(OperationalError):
                _select_one(database)
        assert _select_one(database) == 1
    finally:
        database.dispose()
