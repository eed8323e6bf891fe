"""The authorization matrix: every API route and every page × eleven principals, the expected status.

The table below is checked against `app.routes`: a route without an entry (or an entry without a
route) fails `test_every_route_has_an_entry`. One world is built per module (one database per
backend); requests that would change it are chosen so that an authorized principal gets past the
policy and is stopped by the object's state (422), or act on objects made for that one case.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx  # the HTTP client under starlette.testclient
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from api.auth import sessions
from api.auth.passwords import hash_password
from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.http.app import create_app
from api.models import Organisation, Posting, User
from api.models.enums import OrganisationType, Role
from api.notifications.service import notify_users
from api.organisations.schemas import OrganisationCreate
from api.organisations.service import create_organisation
from api.postings.service import close
from tests import factories
from tests.calls_platform.world import CALL_BODY, calls_world, throwaway_call
from tests.helpers import csrf_of
from tests.infra import empty_tables
from tests.infra import test_settings as settings_for
from tests.samples import VISION_NEED, VISION_OFFER

MECH, AGRI = "mechatronics_automotive", "agrifood"
PASSWORD = "a-long-password"
PRINCIPALS = (
    "anon",  # nobody signed in
    "owner",  # a member of the organisation that owns the need every pair is about
    "stranger",  # a member of an unrelated organisation
    "pending",  # a member whose offer is paired with the need, the pair waiting for review
    "rejected",  # ... the pair rejected by a facilitator
    "delivered",  # ... the pair delivered to both parties
    "introduced",  # ... both parties interested
    "fac",  # a facilitator of the need's cluster
    "fac_other",  # a facilitator of another cluster
    "fac_own",  # a facilitator of the need's cluster who belongs to the owning organisation
    "admin",
)
MEMBERS = ("owner", "stranger", "pending", "rejected", "delivered", "introduced")
LOGIN = "303:/login"


def row(spec: str) -> dict[str, str]:
    """Eleven expected outcomes, in PRINCIPALS order: a status, or "303:/where" for a redirect."""
    values = spec.split()
    assert len(values) == len(PRINCIPALS), spec
    return dict(zip(PRINCIPALS, values, strict=True))


# --- the world --------------------------------------------------------------------------------


class Browser:
    """One principal's cookie jar over the app's single client.

    Every request goes through the client whose lifespan built the resources: the async Redis
    client belongs to that client's event loop.
    """

    def __init__(self, client: TestClient) -> None:
        self.client, self.cookies = client, httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.client.cookies = self.cookies
        try:
            return self.client.request(method, url, **kwargs)
        finally:
            self.cookies = httpx.Cookies(self.client.cookies)
            self.client.cookies = httpx.Cookies()

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@dataclass
class World:
    app: Any
    sessions: Any
    client: TestClient
    clients: dict[str, Browser] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    organisations: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def _organisation(session, label: str, org_type: str = "company") -> Organisation:  # type: ignore[no-untyped-def]
    return create_organisation(
        session,
        data=OrganisationCreate(
            name=f"{label} {uuid.uuid4().hex[:6]} Srl", type=OrganisationType(org_type), city="Modena"
        ),
    )


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # once: Argon2id is slow on purpose


def _user(session, email: str, role: Role, organisation=None, clusters=()) -> User:  # type: ignore[no-untyped-def]
    """As `create_user` makes them (role and clusters as an admin's change sets them)."""
    user = User(
        email=email,
        password_hash=_password_hash(),
        role=role.value,
        organisation=organisation,
        clusters=list(clusters),
    )
    session.add(user)
    session.flush()
    return user


def _make_principal(session, name: str, tag: str) -> User:  # type: ignore[no-untyped-def]
    """A user of the principal's kind (its organisation is a new one for members)."""
    email = f"{name}-{tag}@example.it"
    if name in MEMBERS:
        org_type = "company" if name in ("owner", "stranger") else "research_lab"
        return _user(session, email, Role.member, _organisation(session, name, org_type))
    if name == "fac":
        return _user(session, email, Role.facilitator, clusters=[MECH])
    if name == "fac_other":
        return _user(session, email, Role.facilitator, clusters=[AGRI])
    if name == "fac_own":
        return _user(session, email, Role.facilitator, _organisation(session, name), clusters=[MECH])
    return _user(session, email, Role.admin)


def _sign_in(world: World, email: str | None) -> tuple[Browser, dict[str, str], str]:
    """A browser of its own (its own cookie jar): API token, page session, and its CSRF token."""
    client = Browser(world.client)
    if email is None:
        return client, {}, csrf_of(client.get("/login").text)
    token = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    page = client.get("/login")
    signed = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return client, headers, csrf_of(client.get("/app/profile").text)


def fresh(world: World, name: str) -> tuple[Browser, dict[str, str], str, int]:
    """A new principal of the same kind, for requests that end or erase the principal itself.

    Its sessions are opened directly: logging in is tested elsewhere, and hashing is slow.
    """
    client = Browser(world.client)
    if name == "anon":
        return client, {}, csrf_of(client.get("/login").text), 0
    with unit_of_work(world.sessions) as session:
        user = _make_principal(session, name, uuid.uuid4().hex[:8])
        minutes = world.app.state.resources.settings.access_token_minutes
        api_token = sessions.open_session(session, user=user, kind=sessions.API, minutes=minutes)
        web_token = sessions.open_session(session, user=user, kind=sessions.WEB, minutes=minutes)
        user_id = user.id
    client.cookies.set(sessions.SESSION_COOKIE, web_token)
    csrf = csrf_of(client.get("/app/profile").text)
    return client, {"Authorization": f"Bearer {api_token}"}, csrf, user_id


@pytest.fixture(scope="module")
def world(database_url: str, redis_url: str, tmp_path_factory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    empty_tables(database_url)
    settings = settings_for(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=tmp_path_factory.mktemp("authz"),
        rate_limit_enabled=False,  # the matrix signs in dozens of times; limits have their own tests
    )
    app = create_app(settings)
    with TestClient(app) as client:
        world = World(app=app, sessions=sessions_for(settings.resolved_database_url), client=client)
        _build(world)
        yield world


def _build(world: World) -> None:
    jobs = JobBuffer()
    with unit_of_work(world.sessions) as session:
        users = {name: _make_principal(session, name, "w") for name in PRINCIPALS if name != "anon"}
        # fac_own belongs to the owner's organisation: the conflict of interest under test.
        users["fac_own"].organisation_id = users["owner"].organisation_id
        session.flush()
        owner = users["owner"]
        need = factories.posting(session, jobs, owner, VISION_NEED)
        closed = factories.posting(
            session, jobs, owner, {**VISION_NEED, "title": "Ispezione chiusa dei pezzi"}
        )
        close(session, jobs=jobs, posting=closed)
        for status in ("pending", "rejected", "delivered", "introduced"):
            offer = factories.posting(session, jobs, users[status], VISION_OFFER)
            made = factories.suggestion(
                session, need.id, offer.id, status={"pending": "pending_review"}.get(status, status)
            )
            if status == "introduced":
                made.need_interested = made.offer_interested = True
            world.ids[status] = made.id
            world.ids[f"{status}_offer"] = offer.id
        (notice,) = notify_users(
            session, [owner], kind="suggestion.new", payload={"suggestion_id": 0}, dedupe_key="authz-matrix"
        )
        world.ids.update(need=need.id, closed=closed.id, notification=notice.id)
        for name, user in users.items():
            world.users[name] = user.id
            organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
            world.organisations[name] = (
                {
                    "id": organisation.id,
                    "name": organisation.name,
                    "org_type": organisation.type,
                    "city": organisation.city,
                }
                if organisation
                else {"id": None, "name": "Nessuna Srl", "org_type": "company", "city": "Bologna"}
            )
        emails = {name: user.email for name, user in users.items()}
    for name in PRINCIPALS:
        world.clients[name], world.headers[name], world.csrf[name] = _sign_in(world, emails.get(name))


# --- the table --------------------------------------------------------------------------------


@dataclass
class Entry:
    method: str
    route: str  # the route's path template, as in app.routes
    expect: dict[str, str]
    params: Callable[[World, str], dict[str, Any]] | None = None  # (world, principal) -> path params
    json: Any = None  # or a callable (world, principal) -> body
    form: Any = None
    fresh: bool = False  # run with a new principal of the same kind (the request ends or erases it)
    label: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.label}]" if self.label else "")


def ids(**names: str) -> Callable[[World, str], dict[str, Any]]:
    return lambda world, _: {param: world.ids[key] for param, key in names.items()}


def suggestion_entries(method: str, route: str, expect: dict[str, str], **kwargs: Any) -> list[Entry]:
    return [
        Entry(method, route, row(spec), params=ids(suggestion_id=status), label=status, **kwargs)
        for status, spec in expect.items()
    ]


def _throwaway_user(world: World, _: str) -> dict[str, Any]:
    with unit_of_work(world.sessions) as session:
        return {"user_id": _make_principal(session, "stranger", uuid.uuid4().hex[:8]).id}


def _throwaway_organisation(world: World, _: str) -> dict[str, Any]:
    with unit_of_work(world.sessions) as session:
        return {"organisation_id": _organisation(session, "throwaway").id}


def _register_body(world: World, principal: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return {
        "email": f"new-{tag}@example.it",
        "password": PASSWORD,
        "organization": {"name": f"Nuova {tag}", "type": "company", "clusters": [MECH], "city": "Parma"},
    }


def _own_organisation_form(world: World, principal: str) -> dict[str, Any]:
    """The organisation's profile as it is: authorized saves change nothing."""
    org = world.organisations.get(principal) or world.organisations["stranger"]
    return {"name": org["name"], "org_type": org["org_type"], "city": org["city"]}


SAME_TRL = {"trl": VISION_NEED["trl"]}
POSTING_FORM = {
    **{k: VISION_NEED[k] for k in ("kind", "title", "description", "s3_area")},
    "keywords": ", ".join(VISION_NEED["keywords"]),
    "trl": "6",
}
#             anon owner stranger pending rejected delivered introduced fac fac_other fac_own admin
SIGNED_IN_200 = "401 200 200 200 200 200 200 200 200 200 200"
PUBLIC_200 = " ".join(["200"] * 11)
# A suggestion by id: the parties once it reached them, its cluster's reviewers, never a conflicted one.
SEE_SUGGESTION = {
    "pending": "401 404 404 404 404 404 404 200 404 404 200",
    "rejected": "401 404 404 404 404 404 404 200 404 404 200",
    "delivered": "401 200 404 404 404 200 404 200 404 200 200",
    "introduced": "401 200 404 404 404 404 200 200 404 200 200",
}
# Answering "not interested": parties of a visible pair pass the policy (422 on an introduced pair).
ANSWER = {
    "pending": "401 404 404 404 404 404 404 403 404 404 403",
    "rejected": "401 404 404 404 404 404 404 403 404 404 403",
    "introduced": "401 422 404 404 404 404 422 403 404 422 403",
}
# Approving or rejecting pairs that can no longer be reviewed: reviewers pass the policy (422).
# Another cluster's facilitator reads 404 like any stranger: an id tells it nothing.
REVIEW = {
    "rejected": "401 404 404 404 404 404 404 422 404 403 422",
    "introduced": "401 403 404 404 404 404 403 422 404 403 422",
}
APPROVE = {**REVIEW, "delivered": "401 403 404 404 404 403 404 422 404 403 422"}
# A proposal by id: its members once invited, the call's facilitators (not a member's own).
SEE_CONSORTIUM = {
    "pending_review": "401 404 404 404 404 404 404 200 404 404 200",
    "invited": "401 200 404 404 404 200 404 200 404 200 200",
}


def call_ids(**names: str) -> Callable[[World, str], dict[str, Any]]:
    """Path params from the calls' objects, built on first use (tests.calls_platform.world)."""
    return lambda world, _: {param: calls_world(world)[key] for param, key in names.items()}


PAGE_SUGGESTION = {k: v.replace("401", LOGIN, 1) for k, v in SEE_SUGGESTION.items()}
PAGE_ANSWER = {k: v.replace("401", LOGIN, 1) for k, v in ANSWER.items()}

ENTRIES: list[Entry] = [
    # accounts and sessions
    Entry("POST", "/api/v1/auth/register", row(" ".join(["201"] * 11)), json=_register_body),
    Entry(
        "POST",
        "/api/v1/auth/token",
        row(" ".join(["401"] * 11)),
        json={"email": "owner-w@example.it", "password": "not-the-password"},
    ),
    Entry("GET", "/api/v1/auth/me", row(SIGNED_IN_200)),
    Entry("POST", "/api/v1/auth/logout", row("401 204 204 204 204 204 204 204 204 204 204"), fresh=True),
    Entry(
        "POST",
        "/api/v1/auth/password",
        row("401 403 403 403 403 403 403 403 403 403 403"),
        json={"current_password": "not-the-password", "new_password": "another-long-password"},
        label="wrong current password",
    ),
    Entry(
        "POST",
        "/api/v1/auth/password-reset",
        row(" ".join(["202"] * 11)),
        json={"email": "nobody@example.it"},
    ),
    Entry(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        row(" ".join(["400"] * 11)),
        json={"token": "not-a-token", "new_password": "another-long-password"},
        label="invalid link",
    ),
    Entry(
        "POST",
        "/api/v1/admin/users/{user_id}/disable",
        row("401 403 403 403 403 403 403 403 403 403 200"),
        params=_throwaway_user,
    ),
    Entry(
        "POST",
        "/api/v1/admin/users/{user_id}/enable",
        row("401 403 403 403 403 403 403 403 403 403 200"),
        params=lambda world, _: {"user_id": world.users["stranger"]},
    ),
    # postings
    Entry("POST", "/api/v1/postings", row("401 201 201 201 201 201 201 403 403 201 403"), json=VISION_NEED),
    Entry("GET", "/api/v1/postings", row(SIGNED_IN_200)),
    Entry(
        "GET",
        "/api/v1/postings/{posting_id}",
        row("401 200 404 404 404 200 200 200 404 200 200"),
        params=ids(posting_id="need"),
    ),
    Entry(
        "PATCH",
        "/api/v1/postings/{posting_id}",
        row("401 200 404 404 404 403 403 403 404 200 403"),
        params=ids(posting_id="need"),
        json=SAME_TRL,
    ),
    Entry(
        "DELETE",
        "/api/v1/postings/{posting_id}",
        row("401 200 404 404 404 404 404 403 404 200 403"),
        params=ids(posting_id="closed"),
        label="already closed",
    ),
    # suggestions
    Entry("GET", "/api/v1/suggestions", row(SIGNED_IN_200)),
    *suggestion_entries("GET", "/api/v1/suggestions/{suggestion_id}", SEE_SUGGESTION),
    *suggestion_entries(
        "POST", "/api/v1/suggestions/{suggestion_id}/response", ANSWER, json={"interested": False}
    ),
    *suggestion_entries("POST", "/api/v1/suggestions/{suggestion_id}/approval", APPROVE, json={}),
    *suggestion_entries(
        "POST",
        "/api/v1/suggestions/{suggestion_id}/rejection",
        REVIEW,
        json={"reason": "Competenze non pertinenti"},
    ),
    # funding calls: public to members, published and managed by the call's facilitators
    Entry("POST", "/api/v1/calls", row("401 403 403 403 403 403 403 201 403 201 201"), json=CALL_BODY),
    Entry("GET", "/api/v1/calls", row(SIGNED_IN_200)),
    Entry("GET", "/api/v1/calls/{call_id}", row(SIGNED_IN_200), params=call_ids(call_id="call")),
    Entry(
        "PUT",
        "/api/v1/calls/{call_id}",
        row("401 403 403 403 403 403 403 200 403 200 200"),
        params=lambda world, _: throwaway_call(world),
        json=CALL_BODY,
    ),
    Entry(
        "DELETE",
        "/api/v1/calls/{call_id}",
        row("401 403 403 403 403 403 403 200 403 200 200"),
        params=lambda world, _: throwaway_call(world),
    ),
    Entry(
        "GET",
        "/api/v1/calls/{call_id}/funnel",
        row("401 403 403 403 403 403 403 200 403 200 200"),
        params=call_ids(call_id="call"),
    ),
    # consortium proposals: their members once invited, the call's reviewers, never a conflicted one
    Entry("GET", "/api/v1/consortia", row(SIGNED_IN_200)),
    *[
        Entry(
            "GET",
            "/api/v1/consortia/{consortium_id}",
            row(spec),
            params=call_ids(consortium_id=f"consortium_{status}"),
            label=status,
        )
        for status, spec in SEE_CONSORTIUM.items()
    ],
    Entry(
        "POST",
        "/api/v1/consortia/{consortium_id}/approval",
        row("401 403 404 404 404 403 404 422 404 403 422"),
        params=call_ids(consortium_id="consortium_invited"),
        json={},
        label="already invited",
    ),
    Entry(
        "POST",
        "/api/v1/consortia/{consortium_id}/rejection",
        row("401 403 404 404 404 403 404 422 404 403 422"),
        params=call_ids(consortium_id="consortium_invited"),
        json={"reason": "Gruppo non adatto"},
        label="already invited",
    ),
    Entry(
        "POST",
        "/api/v1/consortia/{consortium_id}/answer",
        row("401 422 404 404 404 422 404 403 404 422 403"),
        params=call_ids(consortium_id="consortium_formed"),
        json={"accept": False},
        label="already formed",
    ),
    # clusters
    Entry("GET", "/api/v1/clusters/policies", row(SIGNED_IN_200)),
    Entry(
        "PUT",
        "/api/v1/clusters/{s3_area}/policy",
        row("401 403 403 403 403 403 403 200 403 200 200"),
        params=lambda world, _: {"s3_area": MECH},
        json={"auto_deliver_above": None},
    ),
    # notifications (the live stream is checked apart: its 200 never ends)
    Entry("GET", "/api/v1/notifications", row(SIGNED_IN_200)),
    Entry(
        "POST",
        "/api/v1/notifications/{notification_id}/read",
        row("401 200 404 404 404 404 404 404 404 404 404"),
        params=ids(notification_id="notification"),
    ),
    # privacy
    # (accounts of no organisation have no organisation data: 404)
    Entry("GET", "/api/v1/organisations/me/export", row("401 200 200 200 200 200 200 404 404 200 404")),
    Entry(
        "DELETE",
        "/api/v1/organisations/me",
        row("401 204 204 204 204 204 204 404 404 204 404"),
        json=lambda world, principal: {"confirm": world.organisations.get("_fresh", {}).get("name", "")},
        fresh=True,
    ),
    Entry(
        "DELETE",
        "/api/v1/organisations/{organisation_id}",
        row("401 403 403 403 403 403 403 403 403 403 204"),
        params=_throwaway_organisation,
    ),
    Entry("GET", "/api/v1/audit", row("401 403 403 403 403 403 403 403 403 403 200")),
    # operations and documentation
    Entry("GET", "/healthz", row(PUBLIC_200)),
    Entry("GET", "/readyz", row(PUBLIC_200)),
    # Metrics: the scrape token or the loopback interface, never a user's role (the test client is neither).
    Entry("GET", "/metrics", row(" ".join(["403"] * 11))),
    Entry("GET", "/openapi.json", row(PUBLIC_200)),
    Entry("MOUNT", "/static", row(PUBLIC_200)),
    # pages: public
    Entry("GET", "/", row(PUBLIC_200)),
    Entry(
        "GET",
        "/login",
        row(
            "200 303:/app 303:/app 303:/app 303:/app 303:/app 303:/app 303:/desk 303:/desk 303:/desk 303:/desk"
        ),
    ),
    Entry(
        "POST",
        "/login",
        row(" ".join(["401"] * 11)),
        form={"email": "owner-w@example.it", "password": "not-the-password"},
    ),
    Entry("GET", "/register", row(PUBLIC_200)),
    Entry(
        "POST",
        "/register",
        row(" ".join(["422"] * 11)),
        form={"email": "not-an-email", "password": "x"},
        label="invalid form",
    ),
    Entry("POST", "/logout", row(" ".join(["303:/"] * 11)), fresh=True),
    Entry("GET", "/password-forgot", row(PUBLIC_200)),
    Entry("POST", "/password-forgot", row(PUBLIC_200), form={"email": "nobody@example.it"}),
    Entry("GET", "/password-reset", row(PUBLIC_200)),
    Entry(
        "POST",
        "/password-reset",
        row(" ".join(["400"] * 11)),
        form={"token": "not-a-token", "new_password": "another-long-password"},
        label="invalid link",
    ),
    Entry("GET", "/lang/{code}", row(" ".join(["303:/"] * 11)), params=lambda world, _: {"code": "en"}),
    # pages: members
    Entry("GET", "/app", row(f"{LOGIN} 200 200 200 200 200 200 303:/desk 303:/desk 200 303:/desk")),
    Entry("GET", "/app/postings/new", row(f"{LOGIN} 200 200 200 200 200 200 200 200 200 200")),
    Entry(
        "POST",
        "/app/postings",
        row(
            f"{LOGIN} 303:/app?posted=1 303:/app?posted=1 303:/app?posted=1 303:/app?posted=1 303:/app?posted=1 "
            "303:/app?posted=1 403 403 303:/app?posted=1 403"
        ),
        form=POSTING_FORM,
    ),
    *suggestion_entries("GET", "/app/suggestions/{suggestion_id}", PAGE_SUGGESTION),
    *suggestion_entries(
        "POST", "/app/suggestions/{suggestion_id}/answer", PAGE_ANSWER, form={"interested": "no"}
    ),
    Entry("GET", "/app/profile", row(f"{LOGIN} 200 200 200 200 200 200 200 200 200 200")),
    Entry(
        "POST",
        "/app/profile",
        row(" ".join([LOGIN] + ["303:/app/profile?saved=1"] * 10)),
        form={"email_frequency": "instant", "language": "it"},
    ),
    Entry(
        "POST",
        "/app/organisation",
        row(
            f"{LOGIN} " + " ".join(["303:/app/profile?saved=1"] * 6) + " 403 403 303:/app/profile?saved=1 403"
        ),
        form=_own_organisation_form,
    ),
    Entry(
        "POST",
        "/app/password",
        row(f"{LOGIN} " + " ".join(["303:/app/profile?password_error=wrong#password"] * 10)),
        form={"current_password": "not-the-password", "new_password": "another-long-password"},
        label="wrong current password",
    ),
    Entry(
        "GET",
        "/app/organisation/export",
        row(f"{LOGIN} 200 200 200 200 200 200 404 404 200 404"),
    ),
    Entry(
        "POST",
        "/app/organisation/delete",
        row(f"{LOGIN} " + " ".join(["303:/?deleted=1"] * 6) + " 404 404 303:/?deleted=1 404"),
        form=lambda world, principal: {"confirm": world.organisations.get("_fresh", {}).get("name", "")},
        fresh=True,
    ),
    # pages: funding calls and consortium invitations
    Entry("GET", "/calls", row(f"{LOGIN} 200 200 200 200 200 200 200 200 200 200")),
    Entry("GET", "/calls/new", row(f"{LOGIN} 403 403 403 403 403 403 200 200 200 200")),
    Entry(
        "POST",
        "/calls",
        row(f"{LOGIN} 403 403 403 403 403 403 422 422 422 422"),
        form={"title": "x", "programme": "step"},
        label="invalid form",
    ),
    Entry(
        "GET",
        "/calls/{call_id}",
        row(f"{LOGIN} 200 200 200 200 200 200 200 200 200 200"),
        params=call_ids(call_id="call"),
    ),
    Entry(
        "POST",
        "/calls/consortia/{consortium_id}/review",
        row(f"{LOGIN} 403 404 404 404 403 404 422 404 403 422"),
        params=call_ids(consortium_id="consortium_invited"),
        form={"action": "approve"},
        label="already invited",
    ),
    Entry(
        "GET",
        "/app/consortia/{consortium_id}",
        row(f"{LOGIN} 200 404 404 404 200 404 200 404 200 200"),
        params=call_ids(consortium_id="consortium_invited"),
    ),
    Entry(
        "POST",
        "/app/consortia/{consortium_id}/answer",
        row(f"{LOGIN} 422 404 404 404 422 404 403 404 422 403"),
        params=call_ids(consortium_id="consortium_formed"),
        form={"accept": "no"},
        label="already formed",
    ),
    # pages: the desk and the dashboard
    Entry("GET", "/desk", row(f"{LOGIN} 403 403 403 403 403 403 200 200 200 200")),
    Entry(
        "POST",
        "/desk/review",
        row(f"{LOGIN} 403 403 403 403 403 403 422 404 403 422"),
        form=lambda world, _: {"action": "approve", "ids": [world.ids["delivered"]]},
        label="approve delivered",
    ),
    Entry("GET", "/desk/dashboard", row(f"{LOGIN} 403 403 403 403 403 403 200 200 200 200")),
    Entry(
        "GET",
        "/desk/dashboard/{table}.csv",
        row(f"{LOGIN} 403 403 403 403 403 403 200 200 200 200"),
        params=lambda world, _: {"table": "suggestions"},
    ),
    # pages: administration
    Entry("GET", "/admin", row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 200")),
    Entry(
        "POST",
        "/admin/users/{user_id}",
        row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 303:/admin#users"),
        params=lambda world, _: {"user_id": world.users["stranger"]},
        form={"role": "member"},
    ),
    Entry(
        "POST",
        "/admin/users/{user_id}/{action}",
        row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 303:/admin#users"),
        params=lambda world, _: {"user_id": world.users["stranger"], "action": "enable"},
    ),
    Entry(
        "POST",
        "/admin/organisations/{organisation_id}/delete",
        row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 303:/admin?deleted=1#organisations"),
        params=_throwaway_organisation,
    ),
    Entry(
        "POST",
        "/admin/jobs/retry",
        row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 303:/admin?retried=0#jobs"),
        form={"job_id": "no-such-job"},
    ),
    Entry("GET", "/admin/audit", row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 200")),
    Entry("GET", "/admin/audit.csv", row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 200")),
    Entry(
        "POST",
        "/admin/policies/{s3_area}",
        row(f"{LOGIN} 403 403 403 403 403 403 403 403 403 303:/admin#policies"),
        params=lambda world, _: {"s3_area": MECH},
        form={"auto_deliver_above": ""},
    ),
]
# Checked apart, without reading the never-ending body.
STREAM = ("GET", "/api/v1/notifications/stream")


def route_keys(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) of every route, included routers flattened (FastAPI's own walk of the table)."""
    keys: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            keys.add(("MOUNT", context.path))
        else:
            keys |= {(method, context.path) for method in context.methods or () if method != "HEAD"}
    return keys


def test_every_route_has_an_entry(world):
    table = {(entry.method, entry.route) for entry in ENTRIES} | {STREAM}
    routes = route_keys(world.app)
    assert sorted(routes - table) == [], "routes without an entry in the authorization matrix"
    assert sorted(table - routes) == [], "entries for routes that no longer exist"


def _value(spec: Any, world: World, principal: str) -> Any:
    return spec(world, principal) if callable(spec) else spec


def _request(world: World, entry: Entry, principal: str):  # type: ignore[no-untyped-def]
    client, headers, csrf = world.clients[principal], world.headers[principal], world.csrf[principal]
    if entry.fresh:
        client, headers, csrf, user_id = fresh(world, principal)
        world.organisations["_fresh"] = _fresh_organisation(world, user_id)
    params = entry.params(world, principal) if entry.params else {}
    path = entry.route.format(**params)
    if entry.method == "MOUNT":
        return client.get(f"{path}/site.css", follow_redirects=False)
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if not path.startswith("/api/"):
        if entry.method != "GET":
            kwargs["data"] = {**(_value(entry.form, world, principal) or {}), "csrf": csrf}
    else:
        kwargs["headers"] = headers
        if entry.json is not None:
            kwargs["json"] = _value(entry.json, world, principal)
    if entry.method == "DELETE" and "json" in kwargs:
        return client.request("DELETE", path, **kwargs)
    return client.request(entry.method, path, **kwargs)


def _fresh_organisation(world: World, user_id: int) -> dict[str, Any]:
    with world.sessions() as session:
        user = session.get(User, user_id) if user_id else None
        return {"name": user.organisation.name} if user and user.organisation else {}


def _outcome(response) -> str:  # type: ignore[no-untyped-def]
    if response.status_code in (302, 303, 307):
        return f"{response.status_code}:{response.headers['location']}"
    return str(response.status_code)


def test_authorization_matrix(world):
    """Every (route, principal) case answers as the table says; all mismatches are listed at once."""
    mismatches = []
    cases = 0
    for entry in ENTRIES:
        for principal in PRINCIPALS:
            response = _request(world, entry, principal)
            cases += 1
            got, want = _outcome(response), entry.expect[principal]
            if got != want:
                mismatches.append(
                    f"{entry.name} as {principal}: got {got}, want {want} {response.text[:160]!r}"
                )
    assert mismatches == [], f"{len(mismatches)} of {cases} cases differ:\n" + "\n".join(mismatches)


def test_the_live_stream_refuses_anonymous_visitors(world):
    assert world.clients["anon"].get(STREAM[1]).status_code == 401


# --- what the allowed reads show ---------------------------------------------------------------


def _organisation_of(world: World, principal: str, url: str) -> dict[str, Any]:
    response = world.clients[principal].get(url, headers=world.headers[principal])
    assert response.status_code == 200, response.text
    return response.json()


def test_a_counterpart_reads_the_need_anonymously_until_both_are_interested(world):
    url = f"/api/v1/postings/{world.ids['need']}"
    owner_name = world.organisations["owner"]["name"]
    anonymous = _organisation_of(world, "delivered", url)
    assert anonymous["organisation"] == {"id": None, "name": None, "type": "company", "city": None}
    assert anonymous["title"] == VISION_NEED["title"] and anonymous["pipeline_error"] is None
    assert _organisation_of(world, "introduced", url)["organisation"]["name"] == owner_name
    assert _organisation_of(world, "fac", url)["organisation"]["name"] == owner_name


def test_a_suggestion_shows_the_other_side_as_the_posting_read_does(world):
    delivered = _organisation_of(world, "delivered", f"/api/v1/suggestions/{world.ids['delivered']}")
    assert delivered["need"]["organisation"]["name"] is None and delivered["contact"] is None
    assert delivered["offer"]["organisation"]["name"] == world.organisations["delivered"]["name"]
    owner_view = _organisation_of(world, "owner", f"/api/v1/suggestions/{world.ids['delivered']}")
    assert owner_view["offer"]["organisation"]["name"] is None and owner_view["feedback"] is None
    introduced = _organisation_of(world, "introduced", f"/api/v1/suggestions/{world.ids['introduced']}")
    assert introduced["need"]["organisation"]["name"] == world.organisations["owner"]["name"]
    assert introduced["contact"]["organisation"] == world.organisations["owner"]["name"]
    # The conflicted facilitator reads its organisation's pair as a member: no reviewers' feedback.
    assert (
        _organisation_of(world, "fac_own", f"/api/v1/suggestions/{world.ids['delivered']}")["feedback"]
        is None
    )
    assert (
        _organisation_of(world, "fac", f"/api/v1/suggestions/{world.ids['delivered']}")["feedback"]
        is not None
    )


def test_the_suggestion_page_hides_the_other_sides_identity_until_introduced(world):
    owner_name = world.organisations["owner"]["name"]
    delivered = world.clients["delivered"].get(f"/app/suggestions/{world.ids['delivered']}").text
    assert owner_name not in delivered and "Organizzazione anonima" in delivered
    introduced = world.clients["introduced"].get(f"/app/suggestions/{world.ids['introduced']}").text
    assert owner_name in introduced


def test_lists_show_no_more_than_reads(world):
    for principal in PRINCIPALS[1:]:
        client, headers = world.clients[principal], world.headers[principal]
        for suggestion in client.get("/api/v1/suggestions?limit=200", headers=headers).json():
            assert client.get(f"/api/v1/suggestions/{suggestion['id']}", headers=headers).status_code == 200
        for posting in client.get("/api/v1/postings?limit=200", headers=headers).json():
            assert client.get(f"/api/v1/postings/{posting['id']}", headers=headers).status_code == 200
    listed = world.clients["fac_own"].get("/api/v1/suggestions", headers=world.headers["fac_own"]).json()
    assert {s["status"] for s in listed} == {"delivered", "introduced"}  # its own pairs, as a member


def test_the_conflicted_facilitator_is_told_why_and_nothing_changes(world):
    url = f"/api/v1/suggestions/{world.ids['pending']}/approval"
    refused = world.clients["fac_own"].post(url, json={}, headers=world.headers["fac_own"])
    assert refused.status_code == 403 and "your own organisation" in refused.json()["detail"]
    desk = world.clients["fac_own"].get("/desk").text
    assert VISION_NEED["title"] not in desk  # the desk does not offer its own pairs either
    exported = {
        name: world.clients[name].get("/desk/dashboard/suggestions.csv").text.splitlines()[1:]
        for name in ("fac", "fac_own")
    }
    assert len(exported["fac"]) == 4 and exported["fac_own"] == []  # nor does its dashboard
    with world.sessions() as session:
        assert session.get(Posting, world.ids["need"]) is not None
        statuses = {
            status: session.scalar(
                select(factories.Suggestion.status).where(factories.Suggestion.id == world.ids[status])
            )
            for status in ("pending", "rejected", "delivered", "introduced")
        }
    assert statuses == {
        "pending": "pending_review",
        "rejected": "rejected",
        "delivered": "delivered",
        "introduced": "introduced",
    }


def test_a_withdrawn_pair_stays_visible_only_to_parties_who_had_seen_it(world):
    """Last in the module: it gives the stranger two pairs with the owner's need."""
    jobs = JobBuffer()
    with unit_of_work(world.sessions) as session:
        stranger = session.get(User, world.users["stranger"])
        made = {}
        for first in ("pending_review", "delivered"):
            offer = factories.posting(session, jobs, stranger, {**VISION_OFFER, "title": f"Offerta {first}"})
            suggestion = factories.suggestion(session, world.ids["need"], offer.id, status=first)
            suggestion.status = "withdrawn"  # as closing or editing a posting does
            made[first] = suggestion.id
    client, headers = world.clients["stranger"], world.headers["stranger"]
    assert client.get(f"/api/v1/suggestions/{made['pending_review']}", headers=headers).status_code == 404
    seen = client.get(f"/api/v1/suggestions/{made['delivered']}", headers=headers)
    assert seen.status_code == 200 and seen.json()["status"] == "withdrawn"
    listed = {s["id"] for s in client.get("/api/v1/suggestions", headers=headers).json()}
    assert listed == {made["delivered"]}
    # Through the pair it had seen, the stranger reads the need, still without its author.
    need = client.get(f"/api/v1/postings/{world.ids['need']}", headers=headers).json()
    assert need["organisation"]["name"] is None
