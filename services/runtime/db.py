"""Database access shared by the services: one engine per process, one transaction per call.

SQLite is the embedded default, PostgreSQL the production engine. On SQLite, write transactions
start with BEGIN IMMEDIATE so that two writers queue on the lock instead of one failing when it
upgrades from reading to writing; within a process they also queue on a Python lock first,
because SQLite's own busy handler sleeps in growing steps and lets a waiting writer starve for
seconds under contention.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

# Seconds a pooled PostgreSQL connection may lie idle and still be used without a ping.
IDLE_BEFORE_PING = 5.0


def _sqlite_engine(url: str, begin: str) -> Engine:
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        pool_size=8,
        max_overflow=16,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below be the only transaction control.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Checks a pooled connection before use only when it has lain idle for a while: a ping on
    every checkout (pool_pre_ping) costs a round trip per unit of work, a third of a balance
    read's. A connection cut while busy (a database restart) fails its call once, and the pool
    then replaces every connection older than the failure."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as error:
            # The pool discards this connection and checks out another (up to three times).
            raise DisconnectionError(str(error)) from error


class Database:
    """The engine and session factories of one service's database."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        reader: Engine
        if self.is_sqlite:
            self.engine = reader = _sqlite_engine(url, "BEGIN")
            writer = _sqlite_engine(url, "BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2)
            _ping_when_idle(self.engine)
            writer = self.engine
            # Reads run each statement in its own transaction, as READ COMMITTED gives every
            # statement its own snapshot anyway: no BEGIN and COMMIT round trips around them.
            reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_engine = reader
        self._reader = sessionmaker(reader, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)
        self._writer_engine = writer
        self._write_lock = threading.Lock() if self.is_sqlite else contextlib.nullcontext()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (on PostgreSQL each statement sees the data committed
        when it starts, as in any READ COMMITTED transaction; nothing may be written here)."""
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def read_core(self) -> Iterator[Connection]:
        """A read-only unit of work on a bare connection, for hot reads of Core statements: no
        session, no identity map."""
        with self._read_engine.begin() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that commits when the block ends and rolls back on any exception."""
        with self._write_lock, self._writer() as session, session.begin():
            yield session

    def after_commit(self, callback: Callable[[Session], None]) -> None:
        """Calls `callback` with each write session once its transaction has committed."""
        event.listen(self._writer, "after_commit", callback)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def migrate(self, migrations_dir: Path, service: str) -> None:
        """Bring the schema to the newest revision of the service's Alembic migrations."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(migrations_dir))
        config.attributes["version_table"] = f"alembic_version_{service}"
        with self._writer_engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writer_engine is not self.engine:
            self._writer_engine.dispose()


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
