"""Funding calls without the workers: publishing and its refusals, closing at the deadline,
proposals (eligibility, identity, answers), reminders once, the weekly digest, import, dashboard."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.auth.service import create_user
from api.calls import proposals
from api.calls.reminders import due_distance, send_due_reminders, send_weekly_fits
from api.calls.service import reconcile_calls
from api.cli import main
from api.clusters.dashboard import cluster_dashboard
from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.core.settings import override_settings
from api.models import Call, CallFit, CallReminder, Consortium, Notification, Organisation, Posting, User
from api.models.base import utcnow
from api.models.enums import Role
from api.privacy.service import erase
from tests import factories
from tests.calls_platform.world import CALL_BODY, MECH, make_call, make_consortium
from tests.samples import VISION_NEED, VISION_OFFER


@pytest.fixture
def db(settings):  # type: ignore[no-untyped-def]
    return sessions_for(settings.resolved_database_url)


def _token(client, email: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _facilitator(db, email: str = "fac@example.it", clusters=(MECH,)) -> str:  # type: ignore[no-untyped-def]
    with unit_of_work(db) as session:
        create_user(
            session, email=email, password="a-long-password", role=Role.facilitator, clusters=list(clusters)
        )
    return email


def test_bad_calls_get_a_clear_4xx_and_nothing_is_stored(client, db):
    fac = _token(client, _facilitator(db))
    cases = {
        "deadline": {**CALL_BODY, "deadline": (utcnow() - timedelta(days=1)).isoformat()},
        "rule": {**CALL_BODY, "consortium_rule": {"min_partners": 4, "max_partners": 2}},
        "trl": {**CALL_BODY, "trl_min": 8, "trl_max": 3},
        "budget": {**CALL_BODY, "budget_min": 900000, "budget_max": 1000},
        "link": {**CALL_BODY, "link": "javascript:alert(1)"},
        "area": {**CALL_BODY, "s3_areas": ["nowhere"]},
    }
    for name, body in cases.items():
        response = client.post("/api/v1/calls", json=body, headers=fac)
        assert response.status_code == 422, (name, response.text)
        assert set(response.json()) == {"detail", "errors"} and response.json()["detail"]
    assert (
        "greater than max_partners"
        in client.post("/api/v1/calls", json=cases["rule"], headers=fac).json()["detail"]
    )
    other = client.post("/api/v1/calls", json={**CALL_BODY, "s3_areas": ["agrifood"]}, headers=fac)
    assert other.status_code == 403 and "own clusters" in other.json()["detail"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_a_call_is_edited_by_its_facilitator_and_a_changed_text_is_matched_again(client, db):
    fac = _token(client, _facilitator(db))
    made = client.post("/api/v1/calls", json=CALL_BODY, headers=fac).json()
    deadline = (utcnow() + timedelta(days=90)).isoformat()
    moved = client.put(f"/api/v1/calls/{made['id']}", json={**CALL_BODY, "deadline": deadline}, headers=fac)
    assert moved.status_code == 200 and moved.json()["deadline"][:10] == deadline[:10]
    assert moved.json()["revision"] == made["revision"]  # a new deadline alone needs no new match
    text = {**CALL_BODY, "description": CALL_BODY["description"] + " Anche la tracciabilità dei lotti."}
    edited = client.put(f"/api/v1/calls/{made['id']}", json=text, headers=fac).json()
    assert edited["revision"] == made["revision"] + 1
    bad = client.put(
        f"/api/v1/calls/{made['id']}", json={**CALL_BODY, "trl_min": 9, "trl_max": 2}, headers=fac
    )
    assert bad.status_code == 422
    elsewhere = client.put(
        f"/api/v1/calls/{made['id']}", json={**CALL_BODY, "s3_areas": ["agrifood"]}, headers=fac
    )
    assert elsewhere.status_code == 403
    other = client.post("/api/v1/calls", json={**CALL_BODY, "external_id": "step-2027"}, headers=fac).json()
    clash = client.put(
        f"/api/v1/calls/{made['id']}", json={**CALL_BODY, "external_id": "step-2027"}, headers=fac
    )
    assert clash.status_code == 409 and str(other["id"]) in clash.json()["detail"]
    with db() as session:
        call = session.get(Call, made["id"])
        assert call.description == text["description"] and call.external_id is None


def test_a_facilitator_edits_a_joint_call_without_taking_it_from_the_other_cluster(client, db):
    """Found by attacking the API: one cluster's facilitator could drop the other cluster from a
    joint call (locking its facilitators out), yet not save it unchanged."""
    admin = _token(client, _facilitator(db, "admin@example.it"))
    with unit_of_work(db) as session:
        session.scalar(select(User).where(User.email == "admin@example.it")).role = Role.admin.value
    joint = {**CALL_BODY, "s3_areas": ["agrifood", MECH]}
    made = client.post("/api/v1/calls", json=joint, headers=admin).json()
    mech = _token(client, _facilitator(db))
    agri = _token(client, _facilitator(db, "agri@example.it", clusters=("agrifood",)))
    deadline = (utcnow() + timedelta(days=80)).isoformat()
    edited = client.put(f"/api/v1/calls/{made['id']}", json={**joint, "deadline": deadline}, headers=mech)
    assert edited.status_code == 200, edited.text
    for areas in ([MECH], [MECH, "construction"], []):
        taken = client.put(f"/api/v1/calls/{made['id']}", json={**joint, "s3_areas": areas}, headers=mech)
        assert (
            taken.status_code == 403 and "only your own (mechatronics_automotive)" in taken.json()["detail"]
        )
    # The import path is held to the same rule: re-importing the joint call cannot narrow it either.
    client.put(f"/api/v1/calls/{made['id']}", json={**joint, "external_id": "joint-2"}, headers=admin)
    narrowed = client.post(
        "/api/v1/calls", json={**joint, "external_id": "joint-2", "s3_areas": [MECH]}, headers=mech
    )
    assert narrowed.status_code == 403
    with db() as session:
        assert sorted(session.get(Call, made["id"]).s3_areas) == ["agrifood", MECH]
    assert client.get(f"/api/v1/calls/{made['id']}/funnel", headers=agri).status_code == 200


def test_a_posting_whose_calls_job_was_lost_is_matched_with_the_calls_again(db):
    """Found by fault injection: Redis down at a match's commit lost the posting's calls job for
    good (it was matched, so nothing looked at it again, and it never learnt of a fitting call)."""
    now = utcnow()
    with unit_of_work(db) as session:
        posting = factories.posting(session, JobBuffer(), factories.member(session), VISION_NEED)
        posting.pipeline_state, posting.matched_at = "matched", now - timedelta(minutes=5)
        posting_id = posting.id

    def rescued(**kwargs) -> list:  # type: ignore[no-untyped-def, type-arg]
        jobs = JobBuffer()
        with unit_of_work(db) as session:
            reconcile_calls(
                session, jobs=jobs, now=now, stale_after=timedelta(minutes=1), max_attempts=3, **kwargs
            )
        return [(job.actor_name, args) for job, args in jobs.pending]

    assert rescued() == [("calls.match_posting", (posting_id, 1))]
    assert rescued(busy_queues=frozenset({"matching"})) == []  # it may be waiting its turn there
    with unit_of_work(db) as session:  # no open call: the step records the revision as done
        assert _match_with_calls(session, posting_id) == 0
        assert session.get(Posting, posting_id).calls_matched_revision == 1
    assert rescued() == []


def _match_with_calls(session, posting_id: int) -> int:  # type: ignore[no-untyped-def]
    from api.calls.matching import match_posting_to_calls
    from api.calls.relevance import default_call_calibration
    from api.matching.replica import IndexReplica

    replica = IndexReplica(model="m", dim=4, margin_seconds=60)
    return match_posting_to_calls(
        session,
        jobs=JobBuffer(),
        replica=replica,
        calibration=default_call_calibration(),
        posting_id=posting_id,
        revision=1,
    )


def test_an_external_id_taken_by_a_concurrent_request_is_an_update_or_a_409_not_a_500(
    client, db, monkeypatch
):
    # The race the checks cannot see: another request stored the external_id between this
    # request's check and its write (simulated by a check that finds nothing).
    from api.calls import service as calls_service

    fac = _token(client, _facilitator(db))
    first = client.post("/api/v1/calls", json={**CALL_BODY, "external_id": "race-1"}, headers=fac)
    plain = client.post("/api/v1/calls", json=CALL_BODY, headers=fac).json()
    monkeypatch.setattr(
        calls_service,
        "_imported",
        lambda session, external_id, seen=[]: (  # noqa: B006
            None
            if not seen and not seen.append(1)
            else session.scalar(select(Call).where(Call.external_id == external_id))
        ),
    )
    monkeypatch.setattr(calls_service, "_taken_by", lambda session, external_id, call_id: None)
    again = client.post(
        "/api/v1/calls", json={**CALL_BODY, "title": "Bando aggiornato", "external_id": "race-1"}, headers=fac
    )
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["title"] == "Bando aggiornato"
    clash = client.put(
        f"/api/v1/calls/{plain['id']}", json={**CALL_BODY, "external_id": "race-1"}, headers=fac
    )
    assert clash.status_code == 409 and "race-1" in clash.json()["detail"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 2
        assert session.get(Call, plain["id"]).external_id is None


def test_a_call_past_its_deadline_reads_closed_and_the_pass_closes_it(client, db):
    fac = _token(client, _facilitator(db))
    call_id = client.post("/api/v1/calls", json=CALL_BODY, headers=fac).json()["id"]
    with unit_of_work(db) as session:
        call = session.get(Call, call_id)
        call.deadline = utcnow() - timedelta(minutes=1)
    assert client.get(f"/api/v1/calls/{call_id}", headers=fac).json()["status"] == "closed"
    assert client.get("/api/v1/calls", headers=fac).json() == []
    with unit_of_work(db) as session:
        report = reconcile_calls(
            session, jobs=JobBuffer(), now=utcnow(), stale_after=timedelta(minutes=5), max_attempts=3
        )
    assert report.closed == 1
    with db() as session:
        assert session.get(Call, call_id).status == "closed"


def _fit(session, call: Call, org_type: str, body: dict, score: float = 0.9, pair_with=None) -> User:  # type: ignore[no-untyped-def, type-arg]
    """A posting of a new organisation that fits the call (paired with `pair_with`'s need, if any)."""
    author = factories.member(session, org_type)
    posting = factories.posting(session, JobBuffer(), author, body)
    if pair_with is not None:
        factories.suggestion(session, pair_with, posting.id)
    session.add(
        CallFit(
            call_id=call.id,
            posting_id=posting.id,
            organisation_id=author.organisation_id,
            score=score,
            explanation={"covers": body["keywords"][:2]},
            notified_at=utcnow(),
        )
    )
    session.flush()
    return author


def test_proposals_hold_no_ineligible_organisation_and_none_twice(db):
    with unit_of_work(db) as session:
        call = make_call(session, eligible_types=["company", "research_lab"])
        need = _fit(session, call, "company", VISION_NEED)
        need_id = session.scalar(select(Posting.id).where(Posting.organisation_id == need.organisation_id))
        _fit(session, call, "research_lab", VISION_OFFER, pair_with=need_id)
        trainer = _fit(
            session, call, "training_body", {**VISION_OFFER, "title": "Corsi di visione"}, pair_with=need_id
        )
        call_id, revision = call.id, call.revision
    for _ in range(2):  # a repeated message proposes nothing new
        with unit_of_work(db) as session:
            proposals.propose_consortia(session, jobs=JobBuffer(), call_id=call_id, revision=revision)
    with db() as session:
        [consortium] = session.scalars(select(Consortium)).all()
        members = [m.organisation_id for m in consortium.members]
        assert len(members) == len(set(members)) == 2 and trainer.organisation_id not in members
        reviews = session.scalars(select(Notification).where(Notification.kind == "consortium.review")).all()
        assert reviews == []  # no facilitator of the cluster exists in this world


def test_a_burst_of_fits_is_proposed_from_once_and_a_lost_proposal_job_is_sent_again(db):
    with unit_of_work(db) as session:
        call = make_call(session, eligible_types=["company", "research_lab"])
        need = _fit(session, call, "company", VISION_NEED)
        need_id = session.scalar(select(Posting.id).where(Posting.organisation_id == need.organisation_id))
        call_id = call.id

    def propose() -> int:
        with unit_of_work(db) as session:
            return proposals.propose_consortia(session, jobs=JobBuffer(), call_id=call_id, revision=1)

    def lost_jobs(now) -> list:  # type: ignore[no-untyped-def, type-arg]
        jobs = JobBuffer()
        with unit_of_work(db) as session:
            report = reconcile_calls(
                session, jobs=jobs, now=now, stale_after=timedelta(minutes=5), max_attempts=3
            )
        assert report.proposals == len(jobs.pending)
        return [(job.actor_name, args) for job, args in jobs.pending]

    later = utcnow() + timedelta(minutes=10)
    assert lost_jobs(later) == [("calls.propose_consortia", (call_id, 1))]  # its job never ran
    assert propose() == 0  # a company alone is no consortium; the fit is now taken into account
    assert lost_jobs(later) == []
    with unit_of_work(db) as session:
        _fit(session, session.get(Call, call_id), "research_lab", VISION_OFFER, pair_with=need_id)
    assert propose() == 1  # the new fit is a reason to run
    with unit_of_work(db) as session:
        session.query(Consortium).delete()
    assert propose() == 0  # the same fits again: the job only asks whether anything is new
    with db() as session:
        assert session.scalar(select(func.count(Consortium.id))) == 0
        assert session.scalar(select(func.count()).where(CallFit.proposals_seen_at.is_(None))) == 0


def test_an_unmet_rule_leaves_no_proposal_and_the_dashboard_says_why(db):
    _facilitator(db)
    with unit_of_work(db) as session:
        call = make_call(
            session,
            consortium_rule={"min_partners": 3, "max_partners": 5, "min_countries": 3},
            deadline=utcnow() + timedelta(days=40),
        )
        _fit(session, call, "company", VISION_NEED)
        _fit(session, call, "research_lab", VISION_OFFER)
        assert proposals.propose_consortia(session, jobs=JobBuffer(), call_id=call.id, revision=1) == 0
    with db() as session:
        board = cluster_dashboard(session, session.scalar(select(User).where(User.role == "facilitator")))
        [upcoming] = board.upcoming_calls
        assert upcoming.fitting_organisations == 2 and upcoming.consortia == 0
        assert "partner" in upcoming.unmet_reason


def test_partners_from_two_countries_meet_a_rule_that_asks_for_two(db):
    def proposed(lab_country: str) -> int:
        with unit_of_work(db) as session:
            call = make_call(
                session, consortium_rule={"min_partners": 2, "max_partners": 4, "min_countries": 2}
            )
            need = _fit(session, call, "company", VISION_NEED)
            need_id = session.scalar(
                select(Posting.id).where(Posting.organisation_id == need.organisation_id)
            )
            lab = _fit(session, call, "research_lab", VISION_OFFER, pair_with=need_id)
            lab.organisation.country = lab_country
            session.flush()
            return proposals.propose_consortia(session, jobs=JobBuffer(), call_id=call.id, revision=1)

    assert proposed("IT") == 0  # both Italian: one country only
    assert proposed("DE") == 1


def test_contacts_show_only_between_members_who_both_accepted(db):
    with unit_of_work(db) as session:
        call = make_call(session)
        people = [factories.member(session, t) for t in ("company", "research_lab", "tech_centre")]
        consortium = make_consortium(session, call, [p.organisation_id for p in people], status="invited")
        consortium_id, ids = consortium.id, [p.id for p in people]

    def answer(user_id: int, accept: bool) -> Consortium:
        with unit_of_work(db) as session:
            user = session.get(User, user_id)
            return proposals.answer(
                session, jobs=JobBuffer(), user=user, consortium_id=consortium_id, accept=accept
            )

    def names_seen_by(user_id: int) -> list[str | None]:
        with db() as session:
            user, c = session.get(User, user_id), session.get(Consortium, consortium_id)
            return [
                v["name"]
                for v in (proposals.member_view(session, user, c, m) for m in c.members)
                if not v["yours"]
            ]

    answer(ids[0], True)
    assert names_seen_by(ids[0]) == [None, None]
    answer(ids[1], True)
    assert names_seen_by(ids[0])[0] is not None and names_seen_by(ids[0])[1] is None
    answer(ids[2], False)
    assert names_seen_by(ids[2]) == [None, None]
    with db() as session:
        assert session.get(Consortium, consortium_id).status == "incomplete"
    with pytest.raises(Exception, match="takes no answer"):
        answer(ids[0], False)


def test_an_erased_member_leaves_its_proposals_incomplete_and_the_others_cannot_form_them(db):
    with unit_of_work(db) as session:
        call = make_call(session)
        people = [factories.member(session, t) for t in ("company", "research_lab", "tech_centre")]
        orgs = [p.organisation_id for p in people]
        invited = make_consortium(session, call, orgs[:2], status="invited").id
        formed = make_consortium(session, call, orgs, status="formed").id
        untouched = make_consortium(session, call, orgs[1:], status="invited").id
        admin = factories.member(session, "company")
        admin.role = Role.admin.value
        erase(session, jobs=JobBuffer(), actor=admin, organisation=session.get(Organisation, orgs[0]))
        lab = people[1].id
    with db() as session:
        assert [session.get(Consortium, i).status for i in (invited, formed, untouched)] == [
            "incomplete",
            "incomplete",
            "invited",
        ]
    with unit_of_work(db) as session, pytest.raises(Exception, match="takes no answer"):
        proposals.answer(
            session, jobs=JobBuffer(), user=session.get(User, lab), consortium_id=invited, accept=True
        )


def test_reminders_go_once_per_distance_and_never_for_distances_passed_before_publication(db):
    with unit_of_work(db) as session:
        call = make_call(session, deadline=utcnow() + timedelta(days=10))
        people = [_fit(session, call, "company", VISION_NEED)]
        call_id, deadline, created = call.id, call.deadline, call.created_at
    assert due_distance(make_call_like(deadline, created), [30, 14, 3], deadline - timedelta(days=9)) == (
        None,
        [],
    )
    counts = []
    for now in (deadline - timedelta(days=9), deadline - timedelta(days=3), deadline - timedelta(days=2)):
        with unit_of_work(db) as session:
            counts.append(send_due_reminders(session, jobs=JobBuffer(), distances=[30, 14, 3], now=now))
    assert counts == [0, len(people), 0]
    with db() as session:
        assert session.scalars(
            select(CallReminder.days_before).where(CallReminder.call_id == call_id)
        ).all() == [3]
        [reminder] = session.scalars(select(Notification).where(Notification.kind == "call.reminder")).all()
        assert reminder.payload["days_left"] == 3 and reminder.payload["path"] == f"/calls/{call_id}"


def make_call_like(deadline, created):  # type: ignore[no-untyped-def]
    return Call(deadline=deadline, created_at=created)


def test_the_weekly_calls_that_fit_you_goes_once_a_week(db):
    with unit_of_work(db) as session:
        call = make_call(session)
        _fit(session, call, "company", VISION_NEED)
    now = utcnow()
    sent = []
    for when in (now, now + timedelta(hours=1), now + timedelta(days=7)):
        with unit_of_work(db) as session:
            sent.append(send_weekly_fits(session, jobs=JobBuffer(), now=when))
    assert sent == [1, 0, 1]


def test_calls_import_takes_json_and_csv_all_or_nothing_and_updates_by_external_id(settings, db, tmp_path):
    _facilitator(db)
    override_settings(settings)
    try:
        cli = CliRunner()
        deadline = (utcnow() + timedelta(days=50)).isoformat()
        good = {**CALL_BODY, "deadline": deadline, "external_id": "er-2026-01"}
        (tmp_path / "calls.json").write_text(json.dumps([good]))
        first = cli.invoke(main, ["calls", "import", str(tmp_path / "calls.json"), "--as", "fac@example.it"])
        assert first.exit_code == 0 and "1 new, 0 updated" in first.output, first.output
        again = cli.invoke(main, ["calls", "import", str(tmp_path / "calls.json"), "--as", "fac@example.it"])
        assert "0 new, 1 updated" in again.output, again.output
        csv_text = (
            "external_id,title,description,programme,deadline,s3_areas,eligible_types,min_partners\n"
            f'er-2026-02,"{CALL_BODY["title"]}","{CALL_BODY["description"]}",fesr_er,{deadline},'
            f"{MECH},company;research_lab,2\n"
            f"er-2026-03,Troppo breve,testo,nowhere,{deadline},{MECH},,1\n"
        )
        (tmp_path / "calls.csv").write_text(csv_text)
        bad = cli.invoke(main, ["calls", "import", str(tmp_path / "calls.csv"), "--as", "fac@example.it"])
        assert bad.exit_code != 0 and "call 2:" in bad.output and "nothing imported" in bad.output
        (tmp_path / "calls.csv").write_text("\n".join(csv_text.splitlines()[:2]) + "\n")
        fine = cli.invoke(main, ["calls", "import", str(tmp_path / "calls.csv"), "--as", "fac@example.it"])
        assert fine.exit_code == 0 and "1 new" in fine.output, fine.output
    finally:
        override_settings(None)
    with db() as session:
        assert sorted(session.scalars(select(Call.external_id))) == ["er-2026-01", "er-2026-02"]
        assert session.scalar(select(Call).where(Call.external_id == "er-2026-02")).eligible_types == [
            "company",
            "research_lab",
        ]


def test_the_call_pages_publish_and_show_the_funnel(client, db):
    from tests.helpers import csrf_of, web_login

    _facilitator(db)
    assert web_login(client, "fac@example.it").status_code == 303
    form = client.get("/calls/new")
    assert form.status_code == 200 and "Pubblica un bando" in form.text
    deadline = (utcnow() + timedelta(days=30)).date().isoformat()
    posted = client.post(
        "/calls",
        data={
            "csrf": csrf_of(form.text),
            "title": CALL_BODY["title"],
            "description": CALL_BODY["description"],
            "programme": "step",
            "deadline": deadline,
            "s3_areas": MECH,
            "min_partners": "2",
            "budget_max": "1.500.000",  # dots group thousands
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    page = client.get(posted.headers["location"])
    assert "Bando pubblicato" in page.text and 'id="funnel"' in page.text
    invalid = client.post("/calls", data={"csrf": csrf_of(form.text), "title": "x", "programme": "step"})
    assert invalid.status_code == 422 and 'aria-invalid="true"' in invalid.text
    # Dots group thousands; "1.5" is no budget in euros (it used to become 15).
    odd = client.post(
        "/calls",
        data={"csrf": csrf_of(form.text), "title": CALL_BODY["title"], "description": CALL_BODY["description"],
              "programme": "step", "deadline": deadline, "s3_areas": MECH, "budget_max": "1.5"},
    )  # fmt: skip
    assert odd.status_code == 422 and 'id="budget_max-error"' in odd.text


def test_the_desk_lists_the_proposals_waiting_for_the_facilitator(client, db):
    from tests.helpers import web_login

    _facilitator(db)
    with unit_of_work(db) as session:
        call = make_call(session)
        people = [factories.member(session, t) for t in ("company", "research_lab")]
        make_consortium(session, call, [p.organisation_id for p in people], status="pending_review")
    assert web_login(client, "fac@example.it").status_code == 303
    desk = client.get("/desk").text
    assert 'id="consortia"' in desk and f"/calls/{call.id}#consortium-" in desk
