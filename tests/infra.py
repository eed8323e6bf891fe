"""Real services for the tests: Redis and a migrated database per backend."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.core.migrate import upgrade
from api.core.redis_server import ping, start_embedded_redis
from api.core.settings import Settings
from api.models import Base

# A database number of its own, so tests never touch what `make run` keeps in Redis.
DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379/13"
DEFAULT_TEST_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def test_redis(workdir: Path) -> Iterator[str]:
    """The local Redis when it answers, otherwise an embedded redis-server started here."""
    url = os.environ.get("CLUSTERMATCH_TEST_REDIS_URL", DEFAULT_TEST_REDIS)
    if ping(url):
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    settings = Settings(data_dir=workdir, environment="test")
    process = start_embedded_redis(settings)
    try:
        yield f"unix://{settings.embedded_redis_dir.resolve() / 'redis.sock'}"
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)


def postgres_admin_url() -> str | None:
    """The test server's URL if it answers; a local cluster that is down is started first."""
    url = os.environ.get("CLUSTERMATCH_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES)
    if _answers(url):
        return url
    if url == DEFAULT_TEST_POSTGRES and _start_local_postgres():
        return url if _answers(url) else None
    return None


def _answers(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@functools.cache
def _start_local_postgres() -> bool:
    """Best effort, for machines whose Debian PostgreSQL cluster is installed but stopped."""
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return False
    for version in sorted(p.name for p in Path("/etc/postgresql").iterdir()):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            timeout=60,
        )
    return True


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_admin_url() else ["sqlite"]


@contextmanager
def migrated_database(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh database built by the migrations, dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'test-{uuid.uuid4().hex[:8]}.sqlite3'}"
        upgrade(url)
        yield url
        return
    admin_url = postgres_admin_url()
    assert admin_url, "PostgreSQL is not reachable"
    name = f"clustermatch_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def test_settings(*, database_url: str, redis_url: str, data_dir: Path, **overrides) -> Settings:  # type: ignore[no-untyped-def]
    values = dict(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        data_dir=data_dir,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        reconcile_interval_seconds=1.0,
        reconcile_stale_seconds=3.0,
        # Most tests follow a suggestion to the parties; the review tests set their own policy.
        review_auto_deliver_above=0.0,
        # Tests register and log in many times from one address; tests/api/test_sessions.py turns them on.
        rate_limit_enabled=False,
    )
    values.update(overrides)
    return Settings(**values)


def shared_file(relative: str) -> Path:
    """A file of the workplace's shared/ folder: beside this checkout (as CI lays it), else /work/shared."""
    beside = Path(__file__).resolve().parents[2] / "shared" / relative
    return beside if beside.exists() else Path("/work/shared") / relative
