"""SQLite writers of one process queue on their engine's gate (api/core/db.py), in turn."""

from __future__ import annotations

import threading

from sqlalchemy import text

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
