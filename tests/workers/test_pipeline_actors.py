"""The actors on the real Redis broker: embed, match, notify, idempotency, reconciliation."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from api.auth.service import create_user
from api.authz import policy
from api.clusters.service import set_policy
from api.core.db import unit_of_work
from api.core.jobs import DELIVER_NOTIFICATION, EMBED_POSTING, MATCH_POSTING, JobBuffer
from api.mail.transport import SmtpTransport
from api.models import Delivery, Embedding, Notification, Posting, Suggestion, User
from api.models.base import utcnow
from api.models.enums import Role
from api.pipeline.service import ReconcilePolicy, reconcile
from api.postings.schemas import PostingUpdate, posting_read
from api.postings.service import close_posting, update_posting
from api.suggestions.service import approve, reject
from embeddings.scoring import default_calibration
from tests import factories
from tests.e2e.stack import free_port
from tests.helpers import wait_for
from tests.samples import MUSEUM_NEED, VISION_NEED, VISION_OFFER, VISION_OFFER_EN, WINE_OFFER


def publish(pipeline, *bodies):  # type: ignore[no-untyped-def]
    """Each posting by a new organisation (company for needs, lab for offers); returns ids."""
    jobs = JobBuffer()
    ids = []
    with unit_of_work(pipeline.sessions) as session:
        for body in bodies:
            author = factories.member(session, "company" if body["kind"] == "need" else "research_lab")
            ids.append(factories.posting(session, jobs, author, body).id)
    pipeline.send(jobs)
    pipeline.drain()
    return ids


def count(pipeline, model, *where) -> int:  # type: ignore[no-untyped-def]
    with pipeline.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def states(pipeline, ids):  # type: ignore[no-untyped-def]
    with pipeline.sessions() as session:
        return {p.id: p.pipeline_state for p in session.scalars(select(Posting).where(Posting.id.in_(ids)))}


def test_a_matching_pair_gets_one_suggestion_with_reasons_and_both_sides_are_notified(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    assert states(pipeline, [need_id, offer_id]) == {need_id: "matched", offer_id: "matched"}
    with pipeline.sessions() as session:
        suggestion = session.scalar(select(Suggestion))
        assert (suggestion.need_id, suggestion.offer_id) == (need_id, offer_id)
        assert default_calibration().threshold <= suggestion.score <= 1.0
        assert "visione artificiale" in suggestion.explanation["shared_terms"]
        assert suggestion.explanation["summary"]["en"].split(". ")[0].endswith(" match")
        assert "Score " in suggestion.explanation["details"]["en"]
        assert "Abbinamento " in suggestion.explanation["summary"]["it"]
        codes = [reason["code"] for reason in suggestion.explanation["reasons"]]
        assert "shared_concepts" in codes and "same_area" in codes
        assert session.scalar(select(func.count()).select_from(Embedding)) == 2
    assert count(pipeline, Notification, Notification.kind == "suggestion.new") == 2


def test_an_italian_need_meets_an_english_offer_with_reasons_across_languages(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER_EN)
    with pipeline.sessions() as session:
        suggestion = session.scalar(select(Suggestion))
        assert suggestion is not None and (suggestion.need_id, suggestion.offer_id) == (need_id, offer_id)
        reasons = {r["code"]: r for r in suggestion.explanation["reasons"]}
        assert "across_languages" in reasons
        # The Italian wording faces the English one, e.g. "difetti superficiali ↔ surface defects".
        assert "↔" in reasons["shared_concepts"]["en"], reasons["shared_concepts"]
        assert suggestion.score_parts["across"] == 1.0


def test_a_rejected_pair_is_never_suggested_again_even_after_an_edit(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    jobs = JobBuffer()
    with unit_of_work(pipeline.sessions) as session:
        facilitator = create_user(
            session,
            email="facilitator@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=["mechatronics_automotive"],
        )
        suggestion_id = session.scalar(select(Suggestion.id))
        reject(session, jobs=jobs, user=facilitator, suggestion_id=suggestion_id, reason="Già provato")
        update_posting(
            session,
            jobs=jobs,
            user=factories.owner_of(session, need_id),
            posting_id=need_id,
            data=PostingUpdate(description=VISION_NEED["description"] + " Budget di 80.000 euro."),
        )
    pipeline.send(jobs)
    pipeline.drain()
    assert states(pipeline, [need_id]) == {need_id: "matched"}
    with pipeline.sessions() as session:
        assert session.get(Embedding, need_id).posting_revision == 2
        (suggestion,) = session.scalars(select(Suggestion)).all()
        assert suggestion.status == "rejected" and suggestion.review_reason == "Già provato"
    assert count(pipeline, Notification, Notification.kind == "suggestion.new") == 2  # none after the edit


def test_under_review_a_new_suggestion_waits_for_the_facilitators_not_the_parties(pipeline):
    jobs = JobBuffer()
    with unit_of_work(pipeline.sessions) as session:
        facilitator = create_user(
            session,
            email="mech@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=["mechatronics_automotive"],
        )
        create_user(
            session,
            email="agri@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=["agrifood"],
        )
        set_policy(session, user=facilitator, s3_area="mechatronics_automotive", auto_deliver_above=None)
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    with pipeline.sessions() as session:
        suggestion = session.scalar(select(Suggestion))
        assert suggestion.status == "pending_review"
        notified = session.scalars(select(Notification)).all()
        assert [(n.kind, n.recipient_id) for n in notified] == [("suggestion.review", facilitator.id)]
        # Live at once; the e-mail waits to be grouped with the other reviews of the window.
        channels = {d.channel: d.status for d in session.scalars(select(Delivery))}
        assert channels == {"live": "sent", "email": "deferred"}
    with unit_of_work(pipeline.sessions) as session:
        approve(
            session, jobs=jobs, user=session.get(User, facilitator.id), suggestion_id=suggestion.id, note=None
        )
    pipeline.send(jobs)
    assert count(pipeline, Notification, Notification.kind == "suggestion.new") == 2


def test_a_cluster_can_let_high_scores_through_without_review(pipeline):
    with unit_of_work(pipeline.sessions) as session:
        admin = create_user(session, email="admin@example.it", password="a-long-password", role=Role.admin)
        set_policy(session, user=admin, s3_area="mechatronics_automotive", auto_deliver_above=0.05)
    publish(pipeline, VISION_NEED, VISION_OFFER)
    with pipeline.sessions() as session:
        assert session.scalar(select(Suggestion.status)) == "delivered"
    assert count(pipeline, Notification, Notification.kind == "suggestion.new") == 2


def test_an_unrelated_pair_gets_no_suggestion_and_only_the_owner_sees_how_close_it_came(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, WINE_OFFER)
    assert states(pipeline, [need_id, offer_id]) == {need_id: "matched", offer_id: "matched"}
    assert count(pipeline, Suggestion) == 0
    threshold = default_calibration().threshold
    with pipeline.sessions() as session:
        need = session.get(Posting, need_id)
        [score] = need.nearest["scores"].values()  # the wine offer, whichever was matched first
        assert score < threshold == need.nearest["threshold"]
        owner = session.scalar(select(User).where(User.organisation_id == need.organisation_id))
        stranger = session.scalar(select(User).where(User.organisation_id != need.organisation_id))
        outlook = posting_read(need, owner=policy.sees_match_outlook(owner, need)).match_outlook
        assert outlook is not None and outlook.nearest_scores == [score]
        assert {a["code"] for a in outlook.advice} >= {"add_english_keywords"}
        assert not policy.sees_match_outlook(stranger, need)
        assert posting_read(need, owner=False).match_outlook is None
    # A fitting offer arrives: the need has a suggestion, and the outlook goes.
    publish(pipeline, VISION_OFFER)
    assert count(pipeline, Suggestion) == 1
    with pipeline.sessions() as session:
        assert session.get(Posting, need_id).nearest is None


def test_redelivered_messages_create_no_duplicates(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    jobs = JobBuffer()
    for posting_id in (need_id, offer_id):
        jobs.enqueue(EMBED_POSTING, posting_id, 1)
        jobs.enqueue(MATCH_POSTING, posting_id, 1)
    with unit_of_work(pipeline.sessions) as session:  # as if matching had to run again
        session.execute(update(Posting).values(pipeline_state="embedded"))
    pipeline.send(jobs)
    pipeline.drain()
    assert count(pipeline, Suggestion) == 1
    assert count(pipeline, Notification) == 2


def test_a_worker_serving_the_matching_queue_matches_what_it_embeds_in_the_same_message(
    pipeline, monkeypatch, caplog
):
    monkeypatch.setattr(pipeline.resources, "matches_inline", True)
    caplog.set_level(logging.INFO, logger="workers.actors")
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    assert states(pipeline, [need_id, offer_id]) == {need_id: "matched", offer_id: "matched"}
    assert count(pipeline, Suggestion) == 1
    steps = [r.getMessage() for r in caplog.records if "match step" in r.getMessage()]
    assert len(steps) == 2 and all("(after the embedding)" in step for step in steps), steps


def test_a_match_that_fails_after_embedding_is_queued_for_the_matching_step(pipeline, monkeypatch, caplog):
    from workers import actors  # bound to the test broker, which the fixture installed first

    monkeypatch.setattr(pipeline.resources, "matches_inline", True)
    ranked = actors.rank_for_match
    calls = []

    def fails_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("replica busy")
        return ranked(*args, **kwargs)

    monkeypatch.setattr(actors, "rank_for_match", fails_first)
    caplog.set_level(logging.INFO, logger="workers.actors")
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    assert states(pipeline, [need_id, offer_id]) == {need_id: "matched", offer_id: "matched"}
    assert count(pipeline, Suggestion) == 1 and count(pipeline, Embedding) == 2
    (failed,) = re.findall(r"posting (\d+) r1: matching after embedding failed", caplog.text)
    assert f"posting {failed} r1 match step (after the queue)" in caplog.text
    with pipeline.sessions() as session:
        assert session.get(Posting, int(failed)).pipeline_error is None  # the queued step cleared it


def test_closing_a_posting_withdraws_its_suggestions_and_removes_it_from_the_index(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    with unit_of_work(pipeline.sessions) as session:
        jobs = JobBuffer()
        close_posting(session, jobs=jobs, user=factories.owner_of(session, offer_id), posting_id=offer_id)
    pipeline.send(jobs)
    with pipeline.sessions() as session:
        assert session.scalar(select(Suggestion.status)) == "withdrawn"
        pipeline.resources.replica.sync(session)
    assert offer_id not in pipeline.resources.replica.indexes["offer"]
    assert need_id in pipeline.resources.replica.indexes["need"]
    # A new, similar need no longer finds the closed offer.
    (new_need,) = publish(pipeline, VISION_NEED)
    assert count(pipeline, Suggestion, Suggestion.need_id == new_need) == 0
    assert count(pipeline, Notification, Notification.kind == "suggestion.withdrawn") == 1


def test_editing_a_posting_re_embeds_and_rematches_it(pipeline):
    need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
    with unit_of_work(pipeline.sessions) as session:
        jobs = JobBuffer()
        update_posting(
            session,
            jobs=jobs,
            user=factories.owner_of(session, need_id),
            posting_id=need_id,
            data=PostingUpdate(
                **{k: MUSEUM_NEED[k] for k in ("title", "description", "keywords", "s3_area")}
            ),
        )
    pipeline.send(jobs)
    pipeline.drain()
    assert states(pipeline, [need_id]) == {need_id: "matched"}
    with pipeline.sessions() as session:
        assert session.get(Embedding, need_id).posting_revision == 2
        assert session.scalar(select(Suggestion.status)) == "withdrawn"


def test_the_reconciler_requeues_a_posting_whose_message_was_lost(pipeline):
    with unit_of_work(pipeline.sessions) as session:
        author = factories.member(session)
        lost = factories.posting(session, JobBuffer(), author, VISION_NEED)  # jobs never sent
        lost.pipeline_updated_at = utcnow() - timedelta(minutes=5)
    policy = ReconcilePolicy(stale_after=timedelta(seconds=60), max_attempts=3)
    jobs = JobBuffer()
    with unit_of_work(pipeline.sessions) as session:
        report = reconcile(session, jobs=jobs, policy=policy)
    assert report.requeued == 1
    pipeline.send(jobs)
    pipeline.drain()
    assert states(pipeline, [lost.id]) == {lost.id: "matched"}


def test_the_reconciler_gives_up_with_a_reason_after_max_attempts(pipeline):
    with unit_of_work(pipeline.sessions) as session:
        author = factories.member(session)
        stuck = factories.posting(session, JobBuffer(), author, VISION_NEED)
        stuck.pipeline_attempts = 3
        stuck.pipeline_error = "embedding: RuntimeError('model broke')"
        stuck.pipeline_updated_at = utcnow() - timedelta(minutes=5)
    with unit_of_work(pipeline.sessions) as session:
        report = reconcile(session, jobs=JobBuffer(), policy=ReconcilePolicy(timedelta(seconds=60), 3))
        assert report.failed == 1
    with pipeline.sessions() as session:
        posting = session.get(Posting, stuck.id)
        assert posting.pipeline_state == "failed"
        assert (
            "gave up after 3 attempts" in posting.pipeline_error and "model broke" in posting.pipeline_error
        )


def test_both_parties_receive_the_new_suggestion_by_smtp_once(pipeline):
    received: list[Message] = []

    class Collect:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    port = free_port()
    server = Controller(Collect(), hostname="127.0.0.1", port=port)
    server.start()
    try:
        pipeline.resources.mail = SmtpTransport(f"smtp://127.0.0.1:{port}")
        need_id, offer_id = publish(pipeline, VISION_NEED, VISION_OFFER)
        wait_for(lambda: len(received) >= 2, timeout=30, what="two e-mails")
        with pipeline.sessions() as session:
            emails = set(session.scalars(select(User.email).where(User.organisation_id.is_not(None))))
            ids = list(session.scalars(select(Delivery.id)))
        assert {m["To"] for m in received} == emails
        assert all(m["Subject"].startswith("Nuovo abbinamento proposto") for m in received)
        assert len(ids) == 4  # one live and one e-mail delivery per notification
        jobs = JobBuffer()
        for delivery_id in ids:  # redelivered messages mail nothing more
            jobs.enqueue(DELIVER_NOTIFICATION, delivery_id)
        pipeline.send(jobs)
        pipeline.drain()
        assert len(received) == 2
        assert count(pipeline, Delivery, Delivery.status == "sent") == 4
    finally:
        server.stop()


def test_the_reconciler_leaves_a_posting_alone_while_its_queue_has_a_backlog(pipeline):
    """A posting waiting behind others is not stuck: no re-enqueue, no attempt, never failed."""
    with unit_of_work(pipeline.sessions) as session:
        waiting = factories.posting(session, JobBuffer(), factories.member(session), VISION_NEED)
        waiting.pipeline_attempts = 3
        waiting.pipeline_updated_at = utcnow() - timedelta(minutes=5)
    policy = ReconcilePolicy(timedelta(seconds=60), 3)
    with unit_of_work(pipeline.sessions) as session:
        report = reconcile(session, jobs=JobBuffer(), policy=policy, busy_queues=frozenset({"embedding"}))
        assert (report.requeued, report.failed) == (0, 0)
    with pipeline.sessions() as session:
        assert session.get(Posting, waiting.id).pipeline_state == "pending"
    with unit_of_work(pipeline.sessions) as session:
        # The backlog is gone and the posting is still there: now it is stuck.
        assert reconcile(session, jobs=JobBuffer(), policy=policy).failed == 1
