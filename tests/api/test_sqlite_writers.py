"""SQLite writers of one process queue on their engine's gate (api/core/db.py), in turn."""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

from api.core.db import make_engine


def _table(tmp_path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}", busy_timeout_ms=5000)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return engine


def test_a_writer_waits_for_the_open_write_transaction_of_another_thread_then_goes_on(tmp_path):
    engine = _table(tmp_path)
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t (v) VALUES ('first')"))
    done = threading.Event()

    def second_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t (v) VALUES ('second')"))
        done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not done.wait(0.5)  # queued behind the open transaction, not failed
    with engine.connect() as reader:  # readers never queue
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
    holder.commit()
    assert done.wait(5)
    thread.join()
    holder.close()
    with engine.connect() as reader:
        assert [r for (r,) in reader.execute(text("SELECT v FROM t ORDER BY id"))] == ["first", "second"]


def test_the_gate_is_free_again_after_a_commit_a_rollback_or_a_closed_connection(tmp_path):
    engine = _table(tmp_path)
    raw = engine.raw_connection()
    gate = raw.dbapi_connection.write_gate
    raw.close()
    for end in ("commit", "rollback", "close"):
        connection = engine.connect()
        connection.begin()
        connection.execute(text("SELECT count(*) FROM t"))
        assert not gate.locked()  # a reader holds nothing
        connection.execute(text("INSERT INTO t (v) VALUES (:end)"), {"end": end})
        assert gate.locked()
        getattr(connection, end)()
        assert not gate.locked(), end
        connection.close()
    with engine.connect() as reader:
        assert [v for (v,) in reader.execute(text("SELECT v FROM t ORDER BY id"))] == ["commit"]


def test_a_savepoint_before_any_write_commits_nothing_on_its_own(tmp_path):
    """Found by fault injection: SQLite opens a transaction for a SAVEPOINT outside one and commits
    it at the RELEASE, so a first write inside `begin_nested()` survived the outer rollback (a call
    fit kept without its notification when the job then failed)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    with Session(engine) as session:
        session.execute(text("SELECT count(*) FROM t")).scalar()  # reads first, as the jobs do
        with session.begin_nested():
            session.execute(text("INSERT INTO t (v) VALUES ('fit')"))
        session.execute(text("INSERT INTO t (v) VALUES ('notification')"))
        session.rollback()  # the job fails before its commit
        with session.begin_nested():
            session.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        session.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT v FROM t")).scalars().all() == ["kept"]
    gate = engine.pool.connect().dbapi_connection.write_gate
    assert gate.acquire(blocking=False)  # and the gate was given back at the commit
    gate.release()
