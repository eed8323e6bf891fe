"""Shared fixtures: real Redis, a migrated database per backend, settings that point at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.http.app import create_app
from tests.infra import backends, empty_tables, migrated_database, test_redis, test_settings

# The in-process worker (broker, model, pipeline) for every folder that needs one, declared once:
# a session fixture declared in two conftests is two fixtures, and a second broker would find
# the actors already bound to the first.
pytest_plugins = ["tests.pipeline_fixtures"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with test_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session", params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def clean_db(database_url: str) -> str:
    empty_tables(database_url)
    return database_url


@pytest.fixture
def settings(clean_db: str, redis_url: str, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return test_settings(database_url=clean_db, redis_url=redis_url, data_dir=tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app in-process (HTTP through TestClient), for the API and page tests."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client
