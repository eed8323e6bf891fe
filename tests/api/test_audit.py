"""The audit log: what is recorded (through the API and the pages), and who may read it."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from api.audit.export import audit_csv, neutralise
from api.auth.service import create_user
from api.core.db import sessions_for, unit_of_work
from api.models import AuditEvent, User
from api.models.base import utcnow
from api.models.enums import Role
from tests import factories
from tests.helpers import csrf_of, register, sign_in_afresh
from tests.samples import VISION_NEED, VISION_OFFER


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # Several accounts log in per test from one address: not what the limiter is tested on.
    return settings.model_copy(update={"rate_limit_enabled": False})


def login(client, email):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def desk(client, settings):  # type: ignore[no-untyped-def]
    """A need, three offers with a pair waiting for review each, a facilitator and an admin."""
    company, lab = register(client), register(client, org_type="research_lab")
    need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
    offers = [
        client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json() for _ in range(3)
    ]
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        pairs = [
            factories.suggestion(session, need["id"], o["id"], status="pending_review").id for o in offers
        ]
        create_user(
            session,
            email="fac@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=["mechatronics_automotive"],
        )
        create_user(session, email="root@example.it", password="a-long-password", role=Role.admin)
    return {"company": company, "lab": lab, "pairs": pairs, "sessions": sessions}


def events(sessions, action):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def test_facilitator_decisions_are_recorded_with_actor_object_and_address(client, desk):
    fac = login(client, "fac@example.it")
    first, second, third = desk["pairs"]
    assert (
        client.post(f"/api/v1/suggestions/{first}/approval", json={"note": "good"}, headers=fac).status_code
        == 200
    )
    rejected = client.post(f"/api/v1/suggestions/{second}/rejection", json={"reason": "too far"}, headers=fac)
    assert rejected.status_code == 200

    (approve,) = events(desk["sessions"], "suggestion.approve")
    assert (approve.actor_email, approve.actor_role) == ("fac@example.it", "facilitator")
    assert (approve.object_type, approve.object_id, approve.ip) == ("suggestion", str(first), "testclient")
    assert approve.details["note"] == "good" and approve.details["from_status"] == "pending_review"
    (reject,) = events(desk["sessions"], "suggestion.reject")
    assert reject.object_id == str(second) and reject.details["note"] == "too far"

    # A refused decision leaves no trace: the row is written in the act's own transaction.
    member = client.post(f"/api/v1/suggestions/{third}/approval", json={}, headers=desk["company"]["headers"])
    assert member.status_code in (403, 404)
    assert len(events(desk["sessions"], "suggestion.approve")) == 1

    # The review desk goes through the same service, so it is recorded too.
    sign_in_afresh(client, "fac@example.it")
    page = client.get("/desk").text
    done = client.post("/desk/review", data={"ids": [third], "action": "approve", "csrf": csrf_of(page)})
    assert done.status_code == 200
    assert [e.object_id for e in events(desk["sessions"], "suggestion.approve")] == [str(first), str(third)]


def test_role_and_review_policy_changes_are_recorded(client, desk):
    admin = login(client, "root@example.it")
    policy = client.put("/api/v1/clusters/agrifood/policy", json={"auto_deliver_above": 0.9}, headers=admin)
    assert policy.status_code == 200
    (change,) = events(desk["sessions"], "cluster.policy_change")
    assert change.object_id == "agrifood" and change.details == {"from": None, "to": 0.9}
    assert change.actor_email == "root@example.it" and change.ip == "testclient"

    target = desk["lab"]["user"]["id"]
    sign_in_afresh(client, "root@example.it")
    page = client.get("/admin").text
    saved = client.post(
        f"/admin/users/{target}",
        data={"role": "facilitator", "clusters": ["agrifood"], "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    (role,) = events(desk["sessions"], "user.role_change")
    assert (role.object_type, role.object_id) == ("user", str(target))
    assert role.details["from"]["role"] == "member"
    assert role.details["to"] == {"role": "facilitator", "clusters": ["agrifood"]}


def test_disabling_and_enabling_an_account_are_recorded(client, desk):
    admin = login(client, "root@example.it")
    target = desk["lab"]["user"]["id"]
    assert client.post(f"/api/v1/admin/users/{target}/disable", headers=admin).status_code == 200
    assert client.post(f"/api/v1/admin/users/{target}/enable", headers=admin).status_code == 200
    (disabled,) = events(desk["sessions"], "user.disable")
    (enabled,) = events(desk["sessions"], "user.enable")
    assert (disabled.object_type, disabled.object_id) == ("user", str(target))
    assert disabled.actor_email == "root@example.it" and disabled.details["was_disabled"] is False
    assert enabled.details["was_disabled"] is True


def test_only_admins_read_the_audit_log(client, desk):
    fac = login(client, "fac@example.it")
    for pair in desk["pairs"][:2]:
        client.post(f"/api/v1/suggestions/{pair}/approval", json={}, headers=fac)
    admin = login(client, "root@example.it")

    body = client.get(
        "/api/v1/audit", params={"action": "suggestion.approve", "limit": 1}, headers=admin
    ).json()
    assert body["total"] == 2 and len(body["items"]) == 1
    assert body["items"][0]["object_id"] == str(desk["pairs"][1])  # newest first
    older = client.get("/api/v1/audit", params={"limit": 1, "offset": 1}, headers=admin).json()
    assert older["items"][0]["object_id"] == str(desk["pairs"][0])
    bad = client.get("/api/v1/audit", params={"action": "nonsense"}, headers=admin)
    assert bad.status_code == 422

    assert client.get("/api/v1/audit").status_code == 401
    for headers in (fac, desk["company"]["headers"]):
        refused = client.get("/api/v1/audit", headers=headers)
        assert refused.status_code == 403 and "administrators" in refused.json()["detail"]

    # The pages: anonymous visitors are sent to log in, others refused, admins read it in their language.
    client.cookies.clear()
    assert client.get("/admin/audit", follow_redirects=False).headers["location"] == "/login"
    sign_in_afresh(client, "fac@example.it")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    sign_in_afresh(client, "root@example.it")
    page = client.get("/admin/audit", params={"action": "suggestion.approve"})
    assert page.status_code == 200 and "abbinamento approvato" in page.text and "fac@example.it" in page.text
    english = client.get("/admin/audit", params={"lang": "en"})
    assert "suggestion approved" in english.text and "Audit log" in english.text
    exported = client.get("/admin/audit.csv")
    assert exported.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["action"] for r in rows} == {"suggestion.approve"} and len(rows) == 2
    assert rows[0]["actor_email"] == "fac@example.it" and rows[0]["ip"] == "testclient"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    assert [neutralise(v) for v in ("=1+2", "+1", "-1", "@SUM(A1)", "fine", None, 3)] == [
        "'=1+2",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "fine",
        "",
        "3",
    ]
    event = AuditEvent(
        id=1,
        at=utcnow(),
        actor_email='=HYPERLINK("http://evil.example","x")',
        action="suggestion.reject",
        object_type="suggestion",
        object_id="7",
        details={},
    )
    (row,) = list(csv.DictReader(io.StringIO(audit_csv([event]))))
    assert row["actor_email"].startswith("'=HYPERLINK") and row["object_id"] == "7"


def test_the_audit_row_keeps_plain_values_when_the_actor_is_gone(client, desk):
    fac = login(client, "fac@example.it")
    client.post(f"/api/v1/suggestions/{desk['pairs'][0]}/approval", json={}, headers=fac)
    with unit_of_work(desk["sessions"]) as session:
        session.delete(session.scalar(select(User).where(User.email == "fac@example.it")))
    (event,) = events(desk["sessions"], "suggestion.approve")
    assert event.actor_email == "fac@example.it" and event.actor_id is not None
