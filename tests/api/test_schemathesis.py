"""The API fuzzed against its own OpenAPI schema (schemathesis, in-process, authenticated).

Every operation gets valid and invalid inputs; no answer may be a server error, and every
answer (status, content type, body) must be the one the schema documents.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth.service import create_user
from api.core.settings import Settings
from api.http.app import create_app
from api.models.enums import Role
from tests.helpers import register
from tests.samples import VISION_NEED

# Small enough for the whole file to run in about a minute on two cores; raise it for a long run.
MAX_EXAMPLES = int(os.environ.get("CLUSTERMATCH_SCHEMATHESIS_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# What the runs sent, per principal: printed at the end with `-s`, for the report.
REQUESTS: Counter[str] = Counter()


@contextmanager
def _app_as(settings: Settings, role: Role) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with one posting in place, and the headers of a user with this role (facilitators
    and admins of the posting's cluster)."""
    # Rate limits would turn most generated logins into 429s; tests/api/test_auth covers them.
    settings = settings.model_copy(update={"rate_limit_enabled": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        company = register(client)
        created = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"])
        assert created.status_code == 201, created.text
        if role is Role.member:
            yield client, company["headers"]
            return
        email = f"{role.value}@example.it"
        with client.app.state.resources.sessions() as session:
            create_user(
                session,
                email=email,
                password="a-long-password",
                role=role,
                clusters=["mechatronics_automotive"],
            )
            session.commit()
        token = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
        assert token.status_code == 200, token.text
        yield client, {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
def as_member(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with _app_as(settings, Role.member) as app:
        yield app


@pytest.fixture
def as_facilitator(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with _app_as(settings, Role.facilitator) as app:
        yield app


@pytest.fixture
def as_admin(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with _app_as(settings, Role.admin) as app:
        yield app


# The schema is the app's own, read without starting it (no lifespan needed for /openapi.json).
# The live stream never ends by itself: tests/api/test_notifications covers it.
schema = schemathesis.openapi.from_dict(create_app(Settings(environment="test")).openapi()).exclude(
    path="/api/v1/notifications/stream"
)
# Where a facilitator's answers differ from a member's (the desk's objects); kept short for time.
facilitator_schema = schema.include(tag=["suggestions", "clusters", "postings", "audit"])
admin_schema = schema.include(tag=["admin", "audit", "privacy"])
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # The same cases on every run: a red suite means a change broke something, not bad luck.
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@BOUNDED
def test_every_operation_conforms_to_the_schema_as_a_member(
    case: schemathesis.Case, as_member: tuple[TestClient, dict[str, str]]
) -> None:
    _call_and_validate(case, *as_member, principal="member")


@facilitator_schema.parametrize()
@BOUNDED
def test_review_operations_conform_to_the_schema_as_a_facilitator(
    case: schemathesis.Case, as_facilitator: tuple[TestClient, dict[str, str]]
) -> None:
    _call_and_validate(case, *as_facilitator, principal="facilitator")


@admin_schema.parametrize()
@BOUNDED
def test_admin_operations_conform_to_the_schema_as_an_admin(
    case: schemathesis.Case, as_admin: tuple[TestClient, dict[str, str]]
) -> None:
    _call_and_validate(case, *as_admin, principal="admin")


def _call_and_validate(
    case: schemathesis.Case, client: TestClient, headers: dict[str, str], *, principal: str
) -> None:
    response = client.request(**_httpx_kwargs(case.as_transport_kwargs(headers=headers)))
    REQUESTS[principal] += 1
    REQUESTS[f"{principal} {response.status_code}"] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis prepares `requests` arguments; TestClient speaks httpx (raw bodies as content)."""
    call = {k: kwargs[k] for k in ("method", "url", "headers", "params", "json") if k in kwargs}
    if kwargs.get("cookies"):
        call["headers"] = {
            **call.get("headers", {}),
            "Cookie": "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items()),
        }
    if kwargs.get("data") is not None:
        call["content"] = kwargs["data"]
    if kwargs.get("files"):
        call["files"] = kwargs["files"]
    return call


def teardown_module() -> None:
    print("\nschemathesis requests:", dict(sorted(REQUESTS.items())))
