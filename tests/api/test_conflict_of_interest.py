"""A facilitator who belongs to an organisation reads the other side of its own organisation's
pairs as a party, never through its reviewer's powers (found by attacking the API)."""

from __future__ import annotations

from sqlalchemy import select

from api.clusters.dashboard import cluster_dashboard
from api.core.db import sessions_for, unit_of_work
from api.models import Notification, Suggestion, User
from api.models.enums import Role
from api.suggestions.service import reviewers_of
from tests import factories
from tests.helpers import register
from tests.samples import VISION_NEED, VISION_OFFER


def test_a_facilitator_sees_its_own_pairs_counterparts_only_as_a_party(client, settings):  # type: ignore[no-untyped-def]
    lab, rival, other = register(client, org_type="research_lab"), register(client), register(client)
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    delivered_need = client.post("/api/v1/postings", json=VISION_NEED, headers=rival["headers"]).json()
    rejected_need = client.post("/api/v1/postings", json=VISION_NEED, headers=other["headers"]).json()
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        delivered = factories.suggestion(session, delivered_need["id"], offer["id"], status="delivered").id
        factories.suggestion(session, rejected_need["id"], offer["id"], status="rejected")
        # The lab's member becomes a facilitator of the pair's cluster.
        member = session.scalar(select(User).where(User.email == lab["user"]["email"]))
        member.role, member.clusters = Role.facilitator.value, ["mechatronics_automotive"]
    headers = lab["headers"]

    seen = client.get(f"/api/v1/suggestions/{delivered}", headers=headers).json()
    assert seen["need"]["organisation"]["name"] is None and seen["contact"] is None
    read = client.get(f"/api/v1/postings/{delivered_need['id']}", headers=headers).json()
    assert read["organisation"]["name"] is None and read["organisation"]["city"] is None
    # The need of the rejected pair is not even confirmed to exist, as for any member.
    assert client.get(f"/api/v1/postings/{rejected_need['id']}", headers=headers).status_code == 404
    listed = {p["id"] for p in client.get("/api/v1/postings?limit=200", headers=headers).json()}
    assert offer["id"] in listed and not listed & {delivered_need["id"], rejected_need["id"]}

    # A facilitator of the same cluster with no stake in the pair reads everything.
    neutral = register(client)
    with unit_of_work(sessions) as session:
        user = session.scalar(select(User).where(User.email == neutral["user"]["email"]))
        user.role, user.clusters = Role.facilitator.value, ["mechatronics_automotive"]
    full = client.get(f"/api/v1/postings/{delivered_need['id']}", headers=neutral["headers"]).json()
    assert full["organisation"]["name"] == rival["organization"]["name"]


def test_a_facilitator_never_reviews_a_pair_with_its_organisations_counterpart(client, settings):  # type: ignore[no-untyped-def]
    """Found by attacking the API: a facilitator read who its organisation was paired with through
    another pair of the same offer, the desk, the dashboard, and its colleagues' export."""
    lab, own, other = register(client, org_type="research_lab"), register(client), register(client)
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    own_need = client.post("/api/v1/postings", json=VISION_NEED, headers=own["headers"]).json()
    other_need = client.post("/api/v1/postings", json=VISION_NEED, headers=other["headers"]).json()
    neutral = register(client)
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        factories.suggestion(session, own_need["id"], offer["id"], status="pending_review")
        others_pair = factories.suggestion(session, other_need["id"], offer["id"], status="pending_review")
        others_pair_id = others_pair.id
        for registered in (own, neutral):
            user = session.scalar(select(User).where(User.email == registered["user"]["email"]))
            user.role, user.clusters = Role.facilitator.value, ["mechatronics_automotive"]
        session.add(
            Notification(
                recipient_id=own["user"]["id"],
                kind="suggestion.review",
                dedupe_key=f"suggestion:{others_pair_id}:review",
                payload={"suggestion_id": others_pair_id},
            )
        )
    barred = own["headers"]

    assert client.get(f"/api/v1/suggestions/{others_pair_id}", headers=barred).status_code == 404
    assert others_pair_id not in {s["id"] for s in client.get("/api/v1/suggestions", headers=barred).json()}
    approve = client.post(f"/api/v1/suggestions/{others_pair_id}/approval", json={}, headers=barred)
    assert approve.status_code == 404
    with sessions() as session:
        facilitator = session.scalar(select(User).where(User.email == own["user"]["email"]))
        board = cluster_dashboard(session, facilitator)
        assert offer["id"] not in {p.id for p in board.postings}
        assert others_pair_id not in {s.id for s in board.suggestions}
        pair = session.get(Suggestion, others_pair_id)
        assert [u.email for u in reviewers_of(session, pair)] == [neutral["user"]["email"]]
    # What it was told as a reviewer is not its organisation's data.
    exported = client.get("/api/v1/organisations/me/export", headers=barred).json()
    assert not [n for n in exported["notifications"] if n["kind"] == "suggestion.review"]
    # A colleague with no stake reviews it, and reads both sides.
    seen = client.get(f"/api/v1/suggestions/{others_pair_id}", headers=neutral["headers"]).json()
    assert seen["offer"]["organisation"]["name"] == lab["organization"]["name"]
