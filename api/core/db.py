"""Database engine and sessions. The caller (a request or a job) owns the transaction."""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_BUSY_TIMEOUT_MS = 30_000


DEFAULT_SQLITE_SYNCHRONOUS = "FULL"
# Connections kept open per process (the API's thread pool runs 40 requests at once).
SQLITE_POOL_SIZE = 20


def make_engine(
    url: str, *, busy_timeout_ms: int | None = None, sqlite_synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS
) -> Engine:
    if url.startswith("sqlite"):
        if sqlite_synchronous.upper() not in ("FULL", "NORMAL"):
            raise ValueError(f"sqlite_synchronous must be FULL or NORMAL, not {sqlite_synchronous!r}")
        busy_ms = DEFAULT_BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
        # A connection to a local file costs no server slot: never make a request wait for one
        # (a request holds its connection between thread-pool hops, so a bounded pool smaller
        # than the concurrent requests can stall them all on checkout), and keep enough open
        # that a burst does not close and reopen them (and rerun the pragmas). An in-memory
        # database keeps SQLAlchemy's own pool (one connection per thread).
        in_memory = url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:") or ":memory:" in url
        pool = {} if in_memory else {"pool_size": SQLITE_POOL_SIZE, "max_overflow": -1}
        connect_args: dict[str, object] = {"check_same_thread": False, "timeout": busy_ms / 1000}
        if not in_memory:
            connect_args["factory"] = _gated_connection_class(busy_ms / 1000)
        engine = create_engine(url, connect_args=connect_args, **pool)
        if not in_memory:
            event.listen(engine, "before_cursor_execute", _take_write_gate)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers (API, workers) run while a writer commits; busy_timeout makes
            # concurrent writers from several processes wait instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            # FULL: a commit returns once it is on disk (an accepted posting survives a power cut).
            # NORMAL in WAL mode fsyncs at checkpoints only: a killed process loses nothing
            # committed, a power cut may lose the last commits, never consistency.
            cursor.execute(f"PRAGMA synchronous={sqlite_synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


# Statements that make SQLite take its write lock (pysqlite opens the transaction before them).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _gated_connection_class(timeout_s: float) -> type[sqlite3.Connection]:
    """A connection class whose writers queue on one lock per engine (that is, per process).

    SQLite lets one writer in at a time, and a writer that finds the lock taken sleeps in steps
    of up to 100 ms before it looks again (its busy handler): under a burst some writers wait
    seconds while others pass them (waits of 3 s were seen with 4 threads). Threads of one
    process wait on this lock instead, in turn, and are woken the moment the holder commits or
    rolls back; SQLite's own lock still arbitrates between processes. A writer that waited
    `timeout_s` goes on to SQLite's lock as before, so a bug can never deadlock here.
    """
    gate = threading.Lock()

    class GatedConnection(sqlite3.Connection):
        write_gate = gate
        holds_gate = False

        def enter_write(self) -> None:
            if not self.holds_gate:
                self.holds_gate = gate.acquire(timeout=timeout_s)

        def _leave_write(self) -> None:
            if self.holds_gate:
                self.holds_gate = False
                gate.release()

        # A transaction ends (or the connection goes) with each of these: the gate is free again.
        commit = _then_leave(sqlite3.Connection.commit)
        rollback = _then_leave(sqlite3.Connection.rollback)
        close = _then_leave(sqlite3.Connection.close)

    return GatedConnection


def _then_leave(method: Callable[[sqlite3.Connection], None]) -> Callable[[Any], None]:
    def ending(self: Any) -> None:
        try:
            method(self)
        finally:
            self._leave_write()

    return ending


def _take_write_gate(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
    # Listened to only on engines whose connections are GatedConnection.
    head = statement.lstrip()[:9].upper()
    if head.startswith(_WRITES):
        conn.connection.dbapi_connection.enter_write()
    elif head.startswith("SAVEPOINT"):
        # SQLite opens a transaction for a SAVEPOINT outside one, and its RELEASE then commits it:
        # a savepoint that comes first (`session.begin_nested()` before any write) would commit
        # its rows on their own, whatever the outer transaction does next (a fit kept without its
        # notification). pysqlite only opens one before a write, so the transaction is opened
        # here; a savepoint in this project always guards a write, so it takes the gate first.
        _begin_writing(conn.connection.dbapi_connection)


def _begin_writing(dbapi_connection: sqlite3.Connection) -> None:
    """Open the transaction with SQLite's write lock (after this process's gate), unless open."""
    if not dbapi_connection.in_transaction:
        if hasattr(dbapi_connection, "enter_write"):  # an in-memory database has no gate
            dbapi_connection.enter_write()
        dbapi_connection.execute("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def sessions_for(
    url: str, *, busy_timeout_ms: int | None = None, sqlite_synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS
) -> sessionmaker[Session]:
    return make_sessionmaker(
        make_engine(url, busy_timeout_ms=busy_timeout_ms, sqlite_synchronous=sqlite_synchronous)
    )


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def hold_lock(session: Session, name: str) -> None:
    """Hold the lock `name` until this session's transaction ends: transactions that take the
    same lock run their check-then-write one after the other, across threads and processes, and
    each one's reads after it see what the ones before committed. On PostgreSQL an advisory
    transaction lock; on SQLite its one write lock (taken now, with BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(name.encode())})
        return
    _begin_writing(session.connection().connection.dbapi_connection)  # type: ignore[arg-type]


def insert_new(session: Session, model: type, *, unique: list[str]):  # type: ignore[no-untyped-def]
    """An INSERT of `model` rows that skips the rows whose `unique` columns exist already
    (ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike): a repeated or concurrent run of
    the same job writes nothing twice, without a savepoint per row."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing(index_elements=unique)
