"""Who sees and answers suggestions, and reading notifications (suggestions made directly in the DB)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.auth.service import create_user
from api.core.db import sessions_for, unit_of_work
from api.models import Posting, Suggestion
from api.models.enums import Role
from api.notifications.service import notify_organisation
from tests import factories
from tests.helpers import register
from tests.samples import VISION_NEED, VISION_OFFER


@pytest.fixture
def pair(client, settings):  # type: ignore[no-untyped-def]
    """A company's need and a lab's offer with a delivered suggestion between them."""
    company, lab = register(client), register(client, org_type="research_lab")
    need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        suggestion = factories.suggestion(session, need["id"], offer["id"])
        for side in (need, offer):
            posting = session.get(Posting, side["id"])
            notify_organisation(
                session,
                organisation_id=posting.organisation_id,
                kind="suggestion.new",
                payload={"suggestion_id": suggestion.id},
                dedupe_key=f"s:{suggestion.id}",
            )
        for email, cluster in (("fac-mech", "mechatronics_automotive"), ("fac-agri", "agrifood")):
            create_user(
                session,
                email=f"{email}@example.it",
                password="a-long-password",
                role=Role.facilitator,
                clusters=[cluster],
            )
    return {
        "company": company,
        "lab": lab,
        "need": need,
        "offer": offer,
        "suggestion_id": suggestion.id,
        "sessions": sessions,
    }


def login(client, email):  # type: ignore[no-untyped-def]
    token = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"}).json()[
        "access_token"
    ]
    return {"Authorization": f"Bearer {token}"}


def test_each_party_sees_the_suggestion_and_the_counterpart_posting(client, pair):
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    assert client.get(url, headers=pair["company"]["headers"]).json()["your_side"] == "need"
    assert client.get(url, headers=pair["lab"]["headers"]).json()["your_side"] == "offer"
    # The company may now read the lab's offer, and only because of the suggestion.
    assert (
        client.get(f"/api/v1/postings/{pair['offer']['id']}", headers=pair["company"]["headers"]).status_code
        == 200
    )


def test_a_third_organisation_sees_nothing_and_cannot_answer(client, pair):
    stranger = register(client)
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    assert client.get(url, headers=stranger["headers"]).status_code == 404
    assert client.get("/api/v1/suggestions", headers=stranger["headers"]).json() == []
    answer = client.post(f"{url}/response", json={"interested": True}, headers=stranger["headers"])
    assert answer.status_code == 404


def test_facilitators_see_their_clusters_only_and_cannot_answer_for_a_party(client, pair):
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    mech, agri = login(client, "fac-mech@example.it"), login(client, "fac-agri@example.it")
    assert client.get(url, headers=mech).status_code == 200
    assert client.get(url, headers=agri).status_code == 404
    assert {p["id"] for p in client.get("/api/v1/postings", headers=mech).json()} >= {
        pair["need"]["id"],
        pair["offer"]["id"],
    }
    assert client.post(f"{url}/response", json={"interested": True}, headers=mech).status_code == 403
    assert client.post("/api/v1/postings", json=VISION_NEED, headers=mech).status_code == 403


def test_not_interested_declines_with_the_reason_kept_and_blocks_further_answers(client, pair):
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    declined = client.post(
        f"{url}/response",
        json={"interested": False, "reason": "Già in contatto con un altro fornitore"},
        headers=pair["lab"]["headers"],
    )
    assert declined.json()["status"] == "declined" and declined.json()["offer_interested"] is False
    with pair["sessions"]() as session:
        assert session.scalar(select(Suggestion.offer_reason)) == "Già in contatto con un altro fornitore"
    late = client.post(f"{url}/response", json={"interested": True}, headers=pair["company"]["headers"])
    assert late.status_code == 422 and "declined" in late.json()["detail"]


def test_both_interested_reveals_each_others_contact(client, pair):
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    first = client.post(
        f"{url}/response", json={"interested": True}, headers=pair["company"]["headers"]
    ).json()
    assert first["status"] == "delivered" and first["contact"] is None
    second = client.post(f"{url}/response", json={"interested": True}, headers=pair["lab"]["headers"]).json()
    assert second["status"] == "introduced"
    assert second["contact"]["people"] == [pair["company"]["user"]["email"]]
    company_view = client.get(url, headers=pair["company"]["headers"]).json()
    assert company_view["contact"]["people"] == [pair["lab"]["user"]["email"]]
    kinds = [
        n["kind"] for n in client.get("/api/v1/notifications", headers=pair["company"]["headers"]).json()
    ]
    assert kinds.count("suggestion.introduced") == 1


def test_notifications_list_and_mark_read_are_per_user(client, pair):
    headers = pair["company"]["headers"]
    (notification,) = client.get("/api/v1/notifications?unread=true", headers=headers).json()
    assert notification["read_at"] is None
    assert (
        client.post(
            f"/api/v1/notifications/{notification['id']}/read", headers=pair["lab"]["headers"]
        ).status_code
        == 404
    )
    read = client.post(f"/api/v1/notifications/{notification['id']}/read", headers=headers).json()
    assert read["read_at"] is not None
    assert client.get("/api/v1/notifications?unread=true", headers=headers).json() == []


def test_both_answering_at_the_same_moment_still_introduces_them(client, pair):
    """Both parties answer concurrently, many times over: every suggestion ends introduced."""
    from concurrent.futures import ThreadPoolExecutor

    from api.models import Suggestion

    ids = [pair["suggestion_id"]]
    with unit_of_work(pair["sessions"]) as session:
        for _ in range(7):  # more pairs between the same two postings' organisations
            need = session.get(Posting, pair["need"]["id"])
            clone = Posting(
                **{
                    c: getattr(need, c)
                    for c in (
                        "kind",
                        "organisation_id",
                        "title",
                        "description",
                        "keywords",
                        "s3_area",
                        "language",
                    )
                }
            )
            session.add(clone)
            session.flush()
            suggestion = Suggestion(
                need_id=clone.id, offer_id=pair["offer"]["id"], score=0.8, score_parts={}, explanation={}
            )
            session.add(suggestion)
            session.flush()
            ids.append(suggestion.id)

    def answer(args):  # type: ignore[no-untyped-def]
        suggestion_id, headers = args
        return client.post(
            f"/api/v1/suggestions/{suggestion_id}/response", json={"interested": True}, headers=headers
        ).status_code

    jobs = [(i, h) for i in ids for h in (pair["company"]["headers"], pair["lab"]["headers"])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert set(pool.map(answer, jobs)) == {200}
    with pair["sessions"]() as session:
        statuses = session.scalars(select(Suggestion.status).where(Suggestion.id.in_(ids))).all()
    assert statuses == ["introduced"] * len(ids)


def test_a_facilitator_rejects_with_a_reason_that_only_facilitators_read(client, pair):
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    mech, agri = login(client, "fac-mech@example.it"), login(client, "fac-agri@example.it")
    reason = {"reason": "Il laboratorio non lavora su leghe leggere"}
    assert client.post(f"{url}/rejection", json=reason, headers=pair["company"]["headers"]).status_code == 403
    assert client.post(f"{url}/rejection", json=reason, headers=agri).status_code == 404  # not its cluster
    empty = client.post(f"{url}/rejection", json={"reason": ""}, headers=mech)
    assert empty.status_code == 422 and "reason" in empty.json()["detail"]

    rejected = client.post(f"{url}/rejection", json=reason, headers=mech)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    feedback = client.get(url, headers=mech).json()["feedback"]
    assert feedback["review_reason"] == reason["reason"]
    assert feedback["reviewed_by"] == "fac-mech@example.it"
    # Hidden from the parties from now on; they were told it is gone, not why.
    assert client.get(url, headers=pair["company"]["headers"]).status_code == 404
    notices = client.get("/api/v1/notifications", headers=pair["lab"]["headers"]).json()
    assert any(
        n["kind"] == "suggestion.withdrawn" and n["payload"].get("by") == "facilitator" for n in notices
    )
    again = client.post(f"{url}/rejection", json=reason, headers=mech)
    assert again.status_code == 422 and "rejected" in again.json()["detail"]


def test_facilitators_read_the_parties_reasons_for_declining(client, pair):
    url = f"/api/v1/suggestions/{pair['suggestion_id']}"
    client.post(
        f"{url}/response",
        json={"interested": False, "reason": "Budget non disponibile"},
        headers=pair["lab"]["headers"],
    )
    feedback = client.get(url, headers=login(client, "fac-mech@example.it")).json()["feedback"]
    assert feedback["offer_interested"] is False and feedback["offer_reason"] == "Budget non disponibile"


@pytest.fixture
def waiting(client, pair):  # type: ignore[no-untyped-def]
    with unit_of_work(pair["sessions"]) as session:
        session.get(Suggestion, pair["suggestion_id"]).status = "pending_review"
    return pair


def test_a_suggestion_waiting_for_review_is_hidden_from_the_parties_until_approved(client, waiting):
    url = f"/api/v1/suggestions/{waiting['suggestion_id']}"
    mech, agri = login(client, "fac-mech@example.it"), login(client, "fac-agri@example.it")
    assert client.get(url, headers=waiting["company"]["headers"]).status_code == 404
    assert client.get("/api/v1/suggestions", headers=waiting["lab"]["headers"]).json() == []
    assert (
        client.post(
            f"{url}/response", json={"interested": True}, headers=waiting["lab"]["headers"]
        ).status_code
        == 404
    )
    assert client.post(f"{url}/approval", json={}, headers=agri).status_code == 404  # not its cluster

    approved = client.post(f"{url}/approval", json={"note": "Ottimo abbinamento"}, headers=mech)
    assert approved.status_code == 200 and approved.json()["status"] == "delivered"
    assert approved.json()["feedback"]["review_reason"] == "Ottimo abbinamento"
    assert client.get(url, headers=waiting["company"]["headers"]).json()["your_side"] == "need"
    again = client.post(f"{url}/approval", json={}, headers=mech)
    assert again.status_code == 422 and "delivered" in again.json()["detail"]


def test_rejecting_a_waiting_suggestion_tells_the_parties_nothing(client, waiting):
    url = f"/api/v1/suggestions/{waiting['suggestion_id']}"
    before = client.get("/api/v1/notifications", headers=waiting["lab"]["headers"]).json()
    rejected = client.post(
        f"{url}/rejection",
        json={"reason": "Competenze non pertinenti"},
        headers=login(client, "fac-mech@example.it"),
    )
    assert rejected.json()["status"] == "rejected"
    assert client.get("/api/v1/notifications", headers=waiting["lab"]["headers"]).json() == before


def test_review_policies_are_set_per_cluster_by_its_facilitator_or_an_admin(client, pair, settings):
    mech = login(client, "fac-mech@example.it")
    policies = {
        p["s3_area"]: p["auto_deliver_above"]
        for p in client.get("/api/v1/clusters/policies", headers=mech).json()
    }
    assert len(policies) == 8 and set(policies.values()) == {settings.review_auto_deliver_above}
    url = "/api/v1/clusters/mechatronics_automotive/policy"
    assert client.put(url, json={"auto_deliver_above": 0.9}, headers=mech).json()["auto_deliver_above"] == 0.9
    assert (
        client.put(url, json={"auto_deliver_above": None}, headers=mech).json()["auto_deliver_above"] is None
    )
    other = client.put("/api/v1/clusters/agrifood/policy", json={"auto_deliver_above": 0.9}, headers=mech)
    assert other.status_code == 403 and "facilitator of this cluster" in other.json()["detail"]
    assert (
        client.put(url, json={"auto_deliver_above": 0.9}, headers=pair["company"]["headers"]).status_code
        == 403
    )
    bad = client.put(url, json={"auto_deliver_above": 1.5}, headers=mech)
    assert bad.status_code == 422 and "auto_deliver_above" in bad.json()["detail"]
    unknown = client.put("/api/v1/clusters/fashion/policy", json={"auto_deliver_above": 0.5}, headers=mech)
    assert unknown.status_code == 422


def test_of_concurrent_reviews_of_one_suggestion_only_the_first_acts(client, waiting):
    """A review that read the status another review changed meanwhile gets a 409 and writes
    nothing (no second audit entry or notification)."""
    from concurrent.futures import ThreadPoolExecutor

    from api.audit.service import AuditAction
    from api.core.errors import Conflict
    from api.models import AuditEvent
    from api.suggestions import service

    mech = login(client, "fac-mech@example.it")
    url = f"/api/v1/suggestions/{waiting['suggestion_id']}"
    with waiting["sessions"]() as stale_session:
        stale = stale_session.get(Suggestion, waiting["suggestion_id"])
        assert stale.status == "pending_review"
        assert client.post(f"{url}/approval", json={}, headers=mech).status_code == 200
        with pytest.raises(Conflict, match="reviewed meanwhile"):
            service._move(stale_session, stale, "rejected")

    def reject(_):  # type: ignore[no-untyped-def]
        return client.post(f"{url}/rejection", json={"reason": "Fuori tema"}, headers=mech).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(reject, range(4)))
    assert codes[0] == 200 and set(codes[1:]) <= {409, 422}, codes
    with waiting["sessions"]() as session:
        rejections = session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.suggestion_reject.value)
        ).all()
    assert len(rejections) == 1
