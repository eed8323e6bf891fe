"""End to end on the real worker (model, replica, Redis): a facilitator publishes a call over
HTTP, the fitting company and lab are told, a consortium is proposed on the desk, approved,
accepted by both, and the deadline reminder goes out once (time injected, never slept)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.auth.service import create_user
from api.calls.reminders import send_due_reminders
from api.core.db import unit_of_work
from api.core.jobs import JobBuffer
from api.models import Call, Delivery, Notification
from api.models.enums import Role
from tests.calls_platform.world import CALL_BODY, MECH
from tests.helpers import register
from tests.samples import VISION_NEED, VISION_OFFER

pytestmark = pytest.mark.e2e


def _facilitator(pipeline, client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with unit_of_work(pipeline.sessions) as session:
        create_user(
            session,
            email="fac-calls@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=[MECH],
        )
    token = client.post(
        "/api/v1/auth/token", json={"email": "fac-calls@example.it", "password": "a-long-password"}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _kinds(client, headers) -> list[str]:  # type: ignore[no-untyped-def]
    return [n["kind"] for n in client.get("/api/v1/notifications", headers=headers).json()]


def test_a_call_reaches_the_fitting_members_who_form_a_consortium_and_are_reminded_once(
    client, pipeline, settings
):
    company = register(client, org_type="company")
    lab = register(client, org_type="research_lab")
    for member, body in ((company, VISION_NEED), (lab, VISION_OFFER)):
        assert client.post("/api/v1/postings", json=body, headers=member["headers"]).status_code == 201
    pipeline.drain()
    fac = _facilitator(pipeline, client)

    published = client.post("/api/v1/calls", json=CALL_BODY, headers=fac)
    assert published.status_code == 201, published.text
    call_id = published.json()["id"]
    pipeline.drain()

    # Both are told the call fits, with reasons and the deadline.
    for member in (company, lab):
        [fit] = [
            n
            for n in client.get("/api/v1/notifications", headers=member["headers"]).json()
            if n["kind"] == "call.fit"
        ]
        assert fit["payload"]["call_id"] == call_id and fit["payload"]["deadline"]
        assert fit["payload"]["reasons"][0]["code"] == "call_fits"

    # The desk has one proposal: the company and the lab, each with why it is there.
    [proposal] = client.get(f"/api/v1/consortia?call_id={call_id}", headers=fac).json()
    assert proposal["status"] == "pending_review"
    assert sorted(m["type"] for m in proposal["members"]) == ["company", "research_lab"]
    assert all(m["why"] and m["name"] for m in proposal["members"])
    assert client.get(f"/api/v1/consortia/{proposal['id']}", headers=company["headers"]).status_code == 404

    approved = client.post(f"/api/v1/consortia/{proposal['id']}/approval", json={}, headers=fac)
    assert approved.status_code == 200 and approved.json()["status"] == "invited"
    pipeline.drain()
    assert "consortium.invitation" in _kinds(client, company["headers"])
    assert "consortium.invitation" in _kinds(client, lab["headers"])

    # Anonymous until both accepted; then each sees the other's contact.
    url = f"/api/v1/consortia/{proposal['id']}"
    seen = client.get(url, headers=company["headers"]).json()
    other = next(m for m in seen["members"] if not m["yours"])
    assert other["name"] is None and other["contact"] is None
    accepted = client.post(f"{url}/answer", json={"accept": True}, headers=company["headers"])
    assert accepted.status_code == 200 and accepted.json()["status"] == "invited"
    formed = client.post(f"{url}/answer", json={"accept": True}, headers=lab["headers"]).json()
    assert formed["status"] == "formed"
    lab_name = next(m["name"] for m in formed["members"] if m["yours"])
    company_view = client.get(url, headers=company["headers"]).json()
    other = next(m for m in company_view["members"] if not m["yours"])
    assert other["name"] == lab_name and other["contact"]["email"]
    pipeline.drain()

    funnel = client.get(f"/api/v1/calls/{call_id}/funnel", headers=fac).json()
    assert funnel["fitting_organisations"] == 2 and funnel["notified"] >= 2
    assert (funnel["consortia_proposed"], funnel["consortia_accepted"]) == (1, 1)

    # The 30-day reminder: due once the deadline is 30 days away, sent once however often the pass runs.
    with pipeline.sessions() as session:
        deadline = session.get(Call, call_id).deadline
    before, due = deadline - timedelta(days=31), deadline - timedelta(days=30, hours=-1)
    sent = []
    for now in (before, due, due + timedelta(hours=1)):
        jobs = JobBuffer()
        with unit_of_work(pipeline.sessions) as session:
            sent.append(
                send_due_reminders(session, jobs=jobs, distances=settings.call_reminder_days, now=now)
            )
        pipeline.send(jobs)
    assert sent == [0, 2, 0]  # one user in each organisation
    pipeline.drain()
    with pipeline.sessions() as session:
        mails = session.scalars(
            select(Delivery.status)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.kind == "call.reminder", Delivery.channel == "email")
        ).all()
    assert mails == ["sent", "sent"]
