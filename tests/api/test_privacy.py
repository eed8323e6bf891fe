"""Export and erasure of an organisation's data, through HTTP, on a real database and replica."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from api.auth.service import create_user
from api.core.db import sessions_for, unit_of_work
from api.core.jobs import FORGET_RECIPIENTS, JobBuffer
from api.mail.transport import recipient_key
from api.matching.replica import IndexReplica
from api.models import (
    AuditEvent,
    CallFit,
    Embedding,
    EmbeddingTombstone,
    Notification,
    Organisation,
    Posting,
    Suggestion,
    User,
)
from api.models.base import utcnow
from api.models.enums import Role
from api.notifications.service import notify_organisation
from api.privacy.service import erase
from api.suggestions.service import summary_payload
from tests import factories
from tests.calls_platform.world import make_call, make_consortium
from tests.helpers import csrf_of, register, sign_in_afresh
from tests.samples import VISION_NEED, VISION_OFFER

DIM = 8


def login(client, email):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def store_vector(session, posting_id, kind, seed):  # type: ignore[no-untyped-def]
    vector = np.random.default_rng(seed).normal(size=DIM).astype("<f4")
    vector /= np.linalg.norm(vector)
    session.merge(
        Embedding(
            posting_id=posting_id,
            kind=kind,
            model="m",
            dim=DIM,
            vector=vector.tobytes(),
            head_vector=vector.tobytes(),
            terms={f"posting{posting_id}": 1},
            posting_revision=1,
            active=True,
            changed_at=utcnow(),
        )
    )


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # Several organisations register per test from one address: not what the limiter is tested on.
    return settings.model_copy(update={"rate_limit_enabled": False})


@pytest.fixture
def world(client, settings):  # type: ignore[no-untyped-def]
    """A company's need with a delivered suggestion to a lab's offer, and a competitor's hidden pair."""
    company = register(client)
    lab = register(client, org_type="research_lab")
    rival = register(client, org_type="research_lab")
    need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    secret = {**VISION_OFFER, "title": "Rival secret capability in hyperspectral imaging"}
    rival_offer = client.post("/api/v1/postings", json=secret, headers=rival["headers"]).json()
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        delivered = factories.suggestion(session, need["id"], offer["id"])
        delivered.need_interested, delivered.need_reason = True, "our own reason"
        delivered.offer_interested, delivered.offer_reason = True, "the lab's private reason"
        delivered.review_reason = "facilitator's internal note"
        hidden = factories.suggestion(session, need["id"], rival_offer["id"], status="pending_review")
        session.flush()
        for side in (need, offer):
            notify_organisation(
                session,
                organisation_id=session.get(Posting, side["id"]).organisation_id,
                kind="suggestion.new",
                payload=summary_payload(delivered),
                dedupe_key=f"suggestion:{delivered.id}:new:1.1",
            )
        for posting_id, kind, seed in ((need["id"], "need", 1), (offer["id"], "offer", 2)):
            store_vector(session, posting_id, kind, seed)
        create_user(session, email="root@example.it", password="a-long-password", role=Role.admin)
        ids = {"delivered": delivered.id, "hidden": hidden.id}
    return {
        "company": company,
        "lab": lab,
        "rival": rival,
        "need": need,
        "offer": offer,
        "rival_offer": rival_offer,
        "sessions": sessions,
        **ids,
    }


def test_the_export_holds_all_own_data_and_nothing_hidden_of_others(client, world):
    response = client.get("/api/v1/organisations/me/export", headers=world["company"]["headers"])
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"].startswith("application/json")
    text = response.text
    document = json.loads(text)

    assert document["organisation"]["name"] == world["company"]["organization"]["name"]
    assert [u["email"] for u in document["users"]] == [world["company"]["user"]["email"]]
    assert "password_hash" not in text and world["company"]["access_token"] not in text
    assert [p["id"] for p in document["postings"]] == [world["need"]["id"]]
    # The delivered pair, not the one still waiting for a facilitator.
    assert [s["id"] for s in document["suggestions"]] == [world["delivered"]]
    assert world["rival_offer"]["title"] not in text
    suggestion = document["suggestions"][0]
    assert (
        suggestion["your_side"] == "need" and suggestion["counterpart_posting"]["id"] == world["offer"]["id"]
    )
    # Anonymous until both sides are interested; the other side's reason and the review note are not ours.
    assert suggestion["counterpart_posting"]["organisation"]["name"] is None
    assert world["lab"]["organization"]["name"] not in text
    assert "the lab's private reason" not in text and "internal note" not in text
    assert document["answers"] == [
        {"suggestion_id": world["delivered"], "side": "need", "interested": True, "reason": "our own reason"}
    ]
    assert [n["kind"] for n in document["notifications"]] == ["suggestion.new"]

    with world["sessions"]() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.export"))
    assert event.actor_email == world["company"]["user"]["email"]
    assert event.object_type == "organisation" and event.object_id == str(document["organisation"]["id"])
    assert event.ip == "testclient"


def test_the_export_holds_the_calls_fitting_us_and_our_consortia_with_partners_anonymous(client, world):
    company_org = world["company"]["organization"]["id"]
    with unit_of_work(world["sessions"]) as session:
        call = make_call(session)
        session.add(
            CallFit(call_id=call.id, posting_id=world["need"]["id"], organisation_id=company_org, score=0.8)
        )
        lab_org = world["lab"]["organization"]["id"]
        invited = make_consortium(session, call, [company_org, lab_org], status="invited")
        make_consortium(session, call, [company_org, lab_org], status="pending_review")
        call_title, invited_id = call.title, invited.id
    document = client.get("/api/v1/organisations/me/export", headers=world["company"]["headers"]).json()
    assert [(f["call_title"], f["posting_id"]) for f in document["call_fits"]] == [
        (call_title, world["need"]["id"])
    ]
    # The invitation, not the proposal still waiting for a facilitator; the lab stays anonymous.
    [consortium] = document["consortia"]
    assert consortium["id"] == invited_id and consortium["status"] == "invited"
    assert sorted(m["yours"] for m in consortium["members"]) == [False, True]
    assert world["lab"]["organization"]["name"] not in json.dumps(document)


def test_the_export_needs_an_organisation_and_a_login(client, world):
    assert client.get("/api/v1/organisations/me/export").status_code == 401
    admin = login(client, "root@example.it")
    response = client.get("/api/v1/organisations/me/export", headers=admin)
    assert response.status_code == 404 and "no organisation" in response.json()["detail"]


def test_deleting_an_organisation_erases_its_data_and_withdraws_the_counterparts_pairs(client, world):
    sessions = world["sessions"]
    company, lab = world["company"], world["lab"]
    org_id = company["organization"]["id"]
    user_id = company["user"]["id"]
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=60)
    with sessions() as session:
        replica.sync(session)  # a live worker's replica, before the erasure
    assert world["need"]["id"] in replica and world["offer"]["id"] in replica

    url = "/api/v1/organisations/me"
    wrong = client.request("DELETE", url, json={"confirm": "not the name"}, headers=company["headers"])
    assert wrong.status_code == 422 and "exact name" in wrong.json()["detail"]
    missing = client.request("DELETE", url, json={}, headers=company["headers"])
    assert missing.status_code == 422
    name = company["organization"]["name"]
    done = client.request("DELETE", url, json={"confirm": name}, headers=company["headers"])
    assert done.status_code == 204 and done.content == b""

    with sessions() as session:
        assert session.get(Organisation, org_id) is None
        assert (
            session.scalar(select(func.count()).select_from(User).where(User.organisation_id == org_id)) == 0
        )
        assert (
            session.scalar(select(func.count()).select_from(Posting).where(Posting.organisation_id == org_id))
            == 0
        )
        assert session.get(Embedding, world["need"]["id"]) is None
        assert (
            session.get(Suggestion, world["delivered"]) is None
            and session.get(Suggestion, world["hidden"]) is None
        )
        assert (
            session.scalar(
                select(func.count()).select_from(Notification).where(Notification.recipient_id == user_id)
            )
            == 0
        )
        lab_notes = list(
            session.scalars(select(Notification).where(Notification.recipient_id == lab["user"]["id"]))
        )
        # The replica drops the erased need at its next catch-up, and keeps the lab's offer.
        replica.sync(session)
    assert world["need"]["id"] not in replica and world["offer"]["id"] in replica
    hits = replica.search("need", np.ones(DIM, dtype=np.float32), 10)
    assert world["need"]["id"] not in [posting_id for posting_id, _ in hits]
    assert replica.lexical.search("need", {f"posting{world['need']['id']}": 1}, 5) == []

    # The lab is told the pair was withdrawn, and none of its notices names the erased side.
    assert sorted(n.kind for n in lab_notes) == ["suggestion.new", "suggestion.withdrawn"]
    for note in lab_notes:
        dumped = json.dumps(note.payload)
        assert note.payload["redacted"] is True and "need" not in note.payload
        assert world["need"]["title"] not in dumped and name not in dumped
        assert note.payload["offer"]["id"] == world["offer"]["id"]
    seen = client.get("/api/v1/notifications", headers=lab["headers"]).text
    assert world["need"]["title"] not in seen and name not in seen

    # The erased account's token opens nothing any more; the audit row outlives it.
    assert client.get("/api/v1/auth/me", headers=company["headers"]).status_code == 401
    with sessions() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.delete"))
    assert (event.actor_id, event.actor_email) == (user_id, company["user"]["email"])
    assert event.object_id == str(org_id) and event.details["name"] == name and event.ip == "testclient"

    admin = login(client, "root@example.it")
    again = client.delete(f"/api/v1/organisations/{org_id}", headers=admin)
    assert again.status_code == 404 and "does not exist" in again.json()["detail"]


def test_an_erasure_asks_the_workers_to_forget_the_erased_peoples_kept_mails(world):
    company = world["company"]
    jobs = JobBuffer()
    with unit_of_work(world["sessions"]) as session:
        admin = session.scalar(select(User).where(User.role == Role.admin.value))
        organisation = session.get(Organisation, company["organization"]["id"])
        erase(session, jobs=jobs, actor=admin, organisation=organisation)
    [(job, (keys,))] = [(job, args) for job, args in jobs.pending if job == FORGET_RECIPIENTS]
    # Hashes, not the addresses: a job message may outlive the erasure in the broker.
    assert keys == [recipient_key(company["user"]["email"])] and company["user"]["email"] not in str(keys)


def test_only_admins_delete_another_organisation(client, world):
    company_org = world["company"]["organization"]["id"]
    url = f"/api/v1/organisations/{company_org}"
    assert client.delete(url).status_code == 401
    refused = client.delete(url, headers=world["lab"]["headers"])
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    with world["sessions"]() as session:
        assert session.get(Organisation, company_org) is not None

    admin = login(client, "root@example.it")
    assert client.delete(url, headers=admin).status_code == 204
    with world["sessions"]() as session:
        assert session.get(Organisation, company_org) is None
        assert session.get(Posting, world["offer"]["id"]) is not None  # the lab keeps its own posting
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.delete"))
    assert event.actor_email == "root@example.it" and event.actor_role == "admin"
    assert client.delete(url, headers=admin).status_code == 404


def test_members_export_and_delete_from_the_profile_page_and_admins_from_theirs(client, world):
    company, lab = world["company"], world["lab"]
    sign_in_afresh(client, company["user"]["email"])
    profile = client.get("/app/profile").text
    assert 'href="/app/organisation/export"' in profile and 'action="/app/organisation/delete"' in profile
    download = client.get("/app/organisation/export")
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
    assert download.json()["organisation"]["id"] == company["organization"]["id"]

    token = csrf_of(profile)
    wrong = client.post("/app/organisation/delete", data={"confirm": "nope", "csrf": token})
    assert wrong.status_code == 422 and "exact name" in wrong.text
    forged = client.post("/app/organisation/delete", data={"confirm": company["organization"]["name"]})
    assert forged.status_code == 403
    done = client.post(
        "/app/organisation/delete",
        data={"confirm": company["organization"]["name"], "csrf": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/?deleted=1"
    with world["sessions"]() as session:
        assert session.get(Organisation, company["organization"]["id"]) is None
    assert client.get("/app/profile", follow_redirects=False).headers["location"] == "/login"

    sign_in_afresh(client, "root@example.it")
    admin_page = client.get("/admin").text
    assert 'href="/admin/audit"' in admin_page
    lab_org = lab["organization"]["id"]
    assert f'action="/admin/organisations/{lab_org}/delete"' in admin_page
    erased = client.post(
        f"/admin/organisations/{lab_org}/delete", data={"csrf": csrf_of(admin_page)}, follow_redirects=False
    )
    assert erased.status_code == 303
    with world["sessions"]() as session:
        assert session.get(Organisation, lab_org) is None
    audit_page = client.get("/admin/audit", params={"action": "organisation.delete"}).text
    assert audit_page.count("organizzazione eliminata") >= 2 and "root@example.it" in audit_page


def test_a_tombstone_does_not_hide_a_later_posting_that_reuses_the_id(settings):
    """SQLite may give an erased posting's id to the next posting: its vector must stay in."""
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=60)
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        kept = factories.posting(session, JobBuffer(), author, VISION_OFFER)
        reused = factories.posting(session, JobBuffer(), author, VISION_OFFER)
        store_vector(session, kept.id, "offer", 1)
    with sessions() as session:
        replica.sync(session)
    with unit_of_work(sessions) as session:  # an erasure: the row goes, a tombstone stays
        session.delete(session.get(Embedding, kept.id))
        session.add(EmbeddingTombstone(posting_id=kept.id, kind="offer", deleted_at=utcnow()))
        session.add(EmbeddingTombstone(posting_id=reused.id, kind="offer", deleted_at=utcnow()))
    with unit_of_work(sessions) as session:
        store_vector(session, reused.id, "offer", 2)  # written after its id's tombstone
    with sessions() as session:
        replica.sync(session)
    assert kept.id not in replica and reused.id in replica
    assert [hit for hit, _ in replica.search("offer", np.ones(DIM, dtype=np.float32), 5)] == [reused.id]
