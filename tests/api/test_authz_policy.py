"""The authorization policy's pure functions, on objects built in memory (no database)."""

from __future__ import annotations

import pytest

from api.authz import policy
from api.clusters.export import csv_text, spreadsheet_safe
from api.models import Posting, Suggestion, User
from api.models.base import utcnow
from api.models.enums import Role

MECH, AGRI = "mechatronics_automotive", "agrifood"
COMPANY, LAB, THIRD = 1, 2, 3


def user(role: str = "member", organisation_id: int | None = None, clusters=()) -> User:  # type: ignore[no-untyped-def]
    return User(
        id=hash((role, organisation_id, clusters)) % 10_000,
        role=role,
        organisation_id=organisation_id,
        clusters=list(clusters),
    )


NEED = Posting(id=10, kind="need", organisation_id=COMPANY, s3_area=MECH)
OFFER = Posting(id=20, kind="offer", organisation_id=LAB, s3_area=MECH)


def pair(status: str, need: Posting = NEED, offer: Posting = OFFER) -> Suggestion:
    return Suggestion(id=99, need=need, need_id=need.id, offer=offer, offer_id=offer.id, status=status)


company, lab, stranger = user(organisation_id=COMPANY), user(organisation_id=LAB), user(organisation_id=THIRD)
mech, agri = user("facilitator", clusters=(MECH,)), user("facilitator", clusters=(AGRI,))
mech_of_company = user("facilitator", organisation_id=COMPANY, clusters=(MECH,))
admin, admin_of_lab = user("admin"), user("admin", organisation_id=LAB)


@pytest.mark.parametrize(
    ("status", "seen"),
    [
        ("pending_review", False),
        ("rejected", False),
        ("delivered", True),
        ("declined", True),
        ("introduced", True),
    ],
)
def test_parties_see_a_suggestion_only_once_it_reached_them(status, seen):
    suggestion = pair(status)
    assert policy.can_see_suggestion(company, suggestion) is seen
    assert policy.can_see_suggestion(lab, suggestion) is seen
    assert policy.can_see_suggestion(stranger, suggestion) is False
    assert policy.can_see_suggestion(mech, suggestion) is True  # reviewers see every state
    assert policy.can_see_suggestion(agri, suggestion) is False


def test_a_withdrawn_suggestion_stays_visible_only_if_it_had_been_delivered():
    never_seen = pair("pending_review")
    never_seen.status = "withdrawn"
    assert never_seen.delivered_at is None and not policy.can_see_suggestion(company, never_seen)
    seen = pair("delivered")
    assert seen.delivered_at is not None  # stamped when the status became delivered
    seen.status = "withdrawn"
    assert policy.can_see_suggestion(company, seen) and policy.party_can_see(seen)


@pytest.mark.parametrize(
    ("status", "hidden"),
    [
        ("pending_review", None),
        ("rejected", None),
        ("delivered", policy.IDENTITY_FIELDS | policy.INTERNAL_FIELDS),
        ("declined", policy.IDENTITY_FIELDS | policy.INTERNAL_FIELDS),
        ("introduced", policy.INTERNAL_FIELDS),
    ],
)
def test_a_counterpart_posting_is_read_through_a_visible_suggestion_anonymous_until_introduced(
    status, hidden
):
    suggestion = pair(status)
    assert policy.hidden_posting_fields(company, OFFER, via=suggestion) == hidden
    assert policy.hidden_posting_fields(company, NEED, via=suggestion) == policy.NOTHING_HIDDEN  # its own
    assert policy.hidden_posting_fields(stranger, OFFER, via=suggestion) is None
    assert policy.hidden_posting_fields(company, OFFER) is None  # no suggestion, no access


def test_a_suggestion_about_other_postings_opens_nothing():
    other_offer = Posting(id=30, kind="offer", organisation_id=LAB, s3_area=MECH)
    assert policy.hidden_posting_fields(company, other_offer, via=pair("introduced")) is None


def test_reviewers_read_their_clusters_postings_and_cross_cluster_counterparts_in_full():
    agri_offer = Posting(id=40, kind="offer", organisation_id=LAB, s3_area=AGRI)
    cross = pair("pending_review", offer=agri_offer)
    assert policy.hidden_posting_fields(mech, NEED) == policy.NOTHING_HIDDEN
    assert policy.hidden_posting_fields(mech, agri_offer) is None
    assert policy.hidden_posting_fields(mech, agri_offer, via=cross) == policy.NOTHING_HIDDEN
    assert policy.hidden_posting_fields(admin, agri_offer) == policy.NOTHING_HIDDEN


def test_facilitators_never_review_their_own_organisations_pairs():
    suggestion = pair("pending_review")
    assert policy.conflict_of_interest(mech_of_company, suggestion)
    assert not policy.can_review_suggestion(mech_of_company, suggestion)
    assert not policy.can_see_suggestion(mech_of_company, suggestion)  # not even while it waits
    assert policy.can_review_suggestion(mech, suggestion) and not policy.can_review_suggestion(
        agri, suggestion
    )
    # An admin of one of the parties is conflicted the same way.
    assert not policy.can_review_suggestion(admin_of_lab, suggestion)
    assert policy.can_review_suggestion(admin, suggestion)
    third_pair = pair("pending_review", need=Posting(id=50, kind="need", organisation_id=THIRD, s3_area=MECH))
    assert policy.can_review_suggestion(mech_of_company, third_pair)  # still a facilitator elsewhere


def _sql(clause) -> str:  # type: ignore[no-untyped-def]
    return str(clause.compile(compile_kwargs={"literal_binds": True}))


def test_suggestion_filters_are_shared_by_organisation_and_areas_and_follow_a_role_change():
    # Built once per (organisation, reviewer areas): two members of one organisation share it.
    colleague = user(organisation_id=COMPANY)
    assert policy.visible_suggestions_filter(colleague) is policy.visible_suggestions_filter(company)
    assert policy.visible_suggestions_filter(lab) is not policy.visible_suggestions_filter(company)
    member_filter = policy.visible_suggestions_filter(colleague)
    assert AGRI not in _sql(member_filter)
    # Made a facilitator of agrifood: the next request's filter includes that cluster's pairs.
    colleague.role, colleague.clusters = "facilitator", [AGRI]
    reviewer_filter = policy.visible_suggestions_filter(colleague)
    assert reviewer_filter is not member_filter and AGRI in _sql(reviewer_filter)
    assert _sql(reviewer_filter) == _sql(
        policy.visible_suggestions_filter(user("facilitator", COMPANY, (AGRI,)))
    )


def test_a_facilitator_answers_for_its_organisation_as_a_member_once_delivered():
    delivered = pair("delivered")
    assert policy.can_answer_suggestion(mech_of_company, delivered)
    assert policy.side_of(mech_of_company, delivered) == "need"
    assert not policy.can_read_feedback(mech_of_company, delivered)  # the other side's reasons stay hidden
    assert not policy.can_answer_suggestion(mech, delivered)
    assert not policy.can_answer_suggestion(company, pair("pending_review"))


def test_contacts_only_between_introduced_parties():
    assert policy.can_read_contact(company, pair("introduced"))
    assert not policy.can_read_contact(company, pair("delivered"))
    assert not policy.can_read_contact(mech, pair("introduced"))


def test_reviewers_to_notify_leave_out_conflicted_ones():
    assert policy.reviewers_among([mech, agri, mech_of_company, admin, company], pair("pending_review")) == [
        mech
    ]


def test_postings_are_edited_only_by_their_organisation():
    assert policy.can_edit_posting(company, NEED) and policy.can_edit_posting(mech_of_company, NEED)
    assert not policy.can_edit_posting(mech, NEED) and not policy.can_edit_posting(admin, NEED)
    assert policy.can_create_posting(company) and not policy.can_create_posting(mech)


def test_cluster_policies_desk_and_roles():
    assert policy.can_manage_cluster_policy(mech, MECH) and not policy.can_manage_cluster_policy(mech, AGRI)
    assert policy.can_manage_cluster_policy(admin, AGRI) and not policy.can_manage_cluster_policy(
        company, MECH
    )
    assert [policy.can_use_desk(u) for u in (company, mech, admin, None)] == [False, True, True, False]
    assert policy.dashboard_areas(mech) == [MECH] and len(policy.dashboard_areas(admin)) == 8
    assert policy.can_change_roles(admin) and not policy.can_change_roles(mech)
    assert policy.gives_up_own_admin(admin, admin, Role.member)
    assert not policy.gives_up_own_admin(admin, company, Role.member)
    assert policy.clusters_for(Role.facilitator, [AGRI, MECH, AGRI]) == [AGRI, MECH]
    assert policy.clusters_for(Role.admin, [AGRI]) == []
    assert [policy.home_of(u) for u in (company, mech, admin)] == ["/app", "/desk", "/desk"]


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_neutralised(cell):
    assert spreadsheet_safe(cell) == "'" + cell
    assert csv_text([[cell]]).lstrip("\ufeff").startswith(("'", "\"'"))


def test_csv_numbers_and_plain_text_pass_unchanged():
    assert [spreadsheet_safe(v) for v in (-0.5, 3, "Visione artificiale", None)] == [
        -0.5,
        3,
        "Visione artificiale",
        None,
    ]
    assert utcnow()  # the stamp used by Suggestion.delivered_at is timezone-aware
