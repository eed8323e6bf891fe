"""A locked or unreachable database answers 503 with Retry-After (JSON for the API, a page for people)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.http.app import create_app
from api.http.unavailable import is_database_trouble
from tests.helpers import register
from tests.infra import migrated_database
from tests.infra import test_settings as make_settings
from tests.samples import VISION_NEED


@contextmanager
def locked(database_path: str) -> Iterator[None]:
    """Hold SQLite's write lock from another connection, as a long transaction elsewhere would."""
    connection = sqlite3.connect(database_path, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


@pytest.fixture
def short_busy_client(redis_url: str, tmp_path) -> Iterator[tuple[TestClient, str]]:  # type: ignore[no-untyped-def]
    with migrated_database("sqlite", tmp_path) as url:
        settings = make_settings(
            database_url=url,
            redis_url=redis_url,
            data_dir=tmp_path,
            database_busy_timeout_ms=200,
            database_retry_after_seconds=7,
        )
        with TestClient(create_app(settings)) as client:
            yield client, url.removeprefix("sqlite:///")


def test_a_write_while_the_database_is_locked_answers_503_with_retry_after(short_busy_client):
    client, path = short_busy_client
    member = register(client)
    with locked(path):
        started = time.monotonic()
        response = client.post("/api/v1/postings", json=VISION_NEED, headers=member["headers"])
        waited = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    assert "try again" in response.json()["detail"].lower()
    assert waited < 5  # the busy timeout setting is used, not the 30 s default
    # The lock gone, the same request succeeds: nothing half-written blocks it.
    assert client.post("/api/v1/postings", json=VISION_NEED, headers=member["headers"]).status_code == 201


def test_a_page_while_the_database_is_locked_shows_a_bilingual_503_page(short_busy_client):
    client, path = short_busy_client
    form = {
        "email": "locked@example.it",
        "password": "a-long-password",
        "org_name": "Officina Locked",
        "org_type": "company",
        "city": "Modena",
        "clusters": ["mechatronics_automotive"],
    }
    for language, words in (("it", "riprova"), ("en", "try again")):
        page = client.get("/register", headers={"Accept-Language": language})
        form["csrf"] = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
        with locked(path):
            response = client.post("/register", data=form, headers={"Accept-Language": language})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert "text/html" in response.headers["content-type"]
        assert words in response.text.lower()


def test_locks_lost_connections_and_timeouts_are_trouble_but_schema_bugs_are_not():
    def operational(message: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert is_database_trouble(operational("database is locked"))
    assert is_database_trouble(operational('connection to server at "db" failed: Connection refused'))
    assert is_database_trouble(PoolTimeout("QueuePool limit of size 10 overflow 10 reached"))
    assert not is_database_trouble(operational("no such table: postings"))
    assert not is_database_trouble(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))
