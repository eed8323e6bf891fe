"""Several API processes: uvicorn's workers flag, one metrics directory for all, the SQLite pool."""

from __future__ import annotations

import sys

from api.cli.processes import MULTIPROC_DIR_ENV, Supervisor, api_command, api_env, stop_all
from api.core.db import SQLITE_POOL_SIZE, make_engine
from api.core.settings import Settings


def test_the_api_runs_as_many_processes_as_configured(tmp_path):
    one = Settings(environment="test", data_dir=tmp_path, api_processes=1)
    assert "--workers" not in api_command(one)
    assert api_env(one, {"A": "1"}) == {"A": "1"}
    two = Settings(environment="test", data_dir=tmp_path, api_processes=2)
    command = api_command(two)
    assert command[command.index("--workers") + 1] == "2"
    assert "--workers" not in api_command(two, processes=1)


def test_several_api_processes_share_one_metrics_directory_emptied_at_start(tmp_path):
    settings = Settings(environment="test", data_dir=tmp_path, api_processes=2)
    stale = tmp_path / "metrics" / "api" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    env = api_env(settings, {})
    assert env[MULTIPROC_DIR_ENV] == str(stale.parent.resolve())
    assert list(stale.parent.iterdir()) == []
    # The operator's own directory is left alone.
    assert api_env(settings, {MULTIPROC_DIR_ENV: "/elsewhere"})[MULTIPROC_DIR_ENV] == "/elsewhere"


def test_a_child_may_have_an_environment_of_its_own(tmp_path):
    out = tmp_path / "env.txt"
    show = [sys.executable, "-c", f"import os; open({str(out)!r}, 'w').write(os.environ.get('X', '-'))"]
    supervisor = Supervisor([("api", show, {"X": "own"})], {"X": "shared"})
    supervisor.start()
    try:
        supervisor.children[0].process.wait(10)
    finally:
        stop_all([c.process for c in supervisor.children])
    assert out.read_text() == "own"


def test_a_sqlite_file_never_makes_a_request_wait_for_a_connection(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        held = [engine.connect() for _ in range(SQLITE_POOL_SIZE + 5)]  # past the kept ones: no wait
        for connection in held:
            connection.close()
        assert engine.pool.checkedin() == SQLITE_POOL_SIZE
    finally:
        engine.dispose()
