"""Who may do what to which object: the one place where roles and visibility are decided.

Pure functions over (principal, object), plus the SQL filters that give lists the same answer
as reads, so a list can never show what a read would refuse. Routes and services call these and
only translate a refusal into 404 (the object is not even confirmed to exist) or 403 (visible,
but not theirs to change).

Principals are users: members of an organisation, facilitators (reviewers of some clusters, who
may also belong to an organisation) and admins (reviewers of every cluster).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, case, false, or_, select, true, union

from api.models import Call, Consortium, ConsortiumMember, Notification, Posting, Suggestion, User
from api.models.enums import NotificationKind, Role, S3Area, SuggestionStatus

ALL_AREAS = frozenset(area.value for area in S3Area)

# What the parties may see: what reached them (a facilitator's approval or the cluster's policy)
# and the answers given since. Never a pair waiting for review or rejected by a facilitator.
SEEN_BY_PARTIES = frozenset(
    {SuggestionStatus.delivered.value, SuggestionStatus.introduced.value, SuggestionStatus.declined.value}
)
# Profiles stay anonymous, as in the EEN, until both sides said they are interested.
IDENTITY_REVEALED = SuggestionStatus.introduced.value
# A counterpart reads the other side's need or offer, not who wrote it nor the pipeline's errors.
IDENTITY_FIELDS = frozenset({"organisation.id", "organisation.name", "organisation.city"})
INTERNAL_FIELDS = frozenset({"pipeline_error"})
NOTHING_HIDDEN: frozenset[str] = frozenset()


# --- principals -----------------------------------------------------------------------------


def is_admin(user: User | None) -> bool:
    return user is not None and user.role == Role.admin.value


def is_facilitator(user: User | None) -> bool:
    return user is not None and user.role == Role.facilitator.value


def reviewer_areas(user: User | None) -> frozenset[str]:
    """The clusters whose suggestions this user reviews (every cluster for an admin)."""
    if is_admin(user):
        return ALL_AREAS
    if is_facilitator(user):
        return frozenset(user.clusters or [])  # type: ignore[union-attr]
    return frozenset()


def belongs_to(user: User | None, organisation_id: int | None) -> bool:
    return user is not None and user.organisation_id is not None and user.organisation_id == organisation_id


def home_of(user: User) -> str:
    """Where a signed-in user lands: reviewers on the desk, members in their area."""
    return "/desk" if can_use_desk(user) else "/app"


# --- postings -------------------------------------------------------------------------------


def can_create_posting(user: User) -> bool:
    """Needs and offers are published in an organisation's name."""
    return user.organisation_id is not None


def can_edit_posting(user: User, posting: Posting) -> bool:
    """Only the publishing organisation edits or closes (whatever its member's role)."""
    return belongs_to(user, posting.organisation_id)


def hidden_posting_fields(
    user: User, posting: Posting, via: Suggestion | None = None
) -> frozenset[str] | None:
    """The fields of `posting` this user may not read; None when it may not read the posting at all.

    `via` is the suggestion through which the posting is reached, if any: a member reads another
    organisation's posting only as the counterpart of a suggestion it can see. When `via` pairs
    the posting with the user's own organisation, the user reads it as a party and only as a
    party, whatever its role: a facilitator never learns through its reviewer's powers who is on
    the other side of its own organisation's pairs (conflict of interest).
    """
    if belongs_to(user, posting.organisation_id):
        return NOTHING_HIDDEN
    reached = via is not None and posting.id in (via.need_id, via.offer_id)
    if reached and involves_own_organisation(user, via):  # type: ignore[arg-type]
        return _hidden_from_party(via)  # type: ignore[arg-type]
    if posting.s3_area in reviewer_areas(user):
        return NOTHING_HIDDEN
    if reached and is_reviewer_of(user, via):  # type: ignore[arg-type]
        return NOTHING_HIDDEN  # a cross-cluster pair: the other cluster's posting comes with it
    return None


def sees_match_outlook(user: User, posting: Posting) -> bool:
    """How close a posting's nearest candidates came is for its owner only: even without names,
    the scores of other organisations' postings are not a reviewer's or counterpart's to read."""
    return belongs_to(user, posting.organisation_id)


def _hidden_from_party(via: Suggestion) -> frozenset[str] | None:
    """What a party may not read of the other side's posting: all of it until the pair reached
    it, the organisation's identity until both sides are interested."""
    if not party_can_see(via):
        return None
    if via.status == IDENTITY_REVEALED:
        return INTERNAL_FIELDS
    return IDENTITY_FIELDS | INTERNAL_FIELDS


def can_read_posting(user: User, posting: Posting, via: Suggestion | None = None) -> bool:
    return hidden_posting_fields(user, posting, via) is not None


def visible_postings_filter(user: User, *, mine: bool = False) -> ColumnElement[bool]:
    """The postings a user lists: its organisation's, and a reviewer's clusters' (`mine`: its own only).

    Counterparts reached through suggestions are read through the suggestions, not listed here.
    """
    own = Posting.organisation_id == user.organisation_id if user.organisation_id is not None else false()
    if mine:
        return own
    areas = reviewer_areas(user)
    if not areas:
        return own
    reviewed = true() if areas == ALL_AREAS else Posting.s3_area.in_(sorted(areas))
    if user.organisation_id is not None:
        # Never the other side of the reviewer's own organisation's pairs (read as a party instead).
        reviewed = and_(reviewed, Posting.id.not_in(counterparts_of(user.organisation_id)))
    return or_(own, reviewed)


def counterparts_of(organisation_id: int):  # type: ignore[no-untyped-def]
    """The postings on the other side of the organisation's pairs, whatever their status."""
    own = _postings_of(organisation_id)
    return union(
        select(Suggestion.need_id).where(Suggestion.offer_id.in_(own)),
        select(Suggestion.offer_id).where(Suggestion.need_id.in_(own)),
    )


# --- suggestions ----------------------------------------------------------------------------


def side_of(user: User, suggestion: Suggestion) -> str | None:
    """The user's side of the pair ("need" or "offer") when its organisation is a party, else None."""
    if belongs_to(user, suggestion.need.organisation_id):
        return "need"
    if belongs_to(user, suggestion.offer.organisation_id):
        return "offer"
    return None


def involves_own_organisation(user: User, suggestion: Suggestion) -> bool:
    return side_of(user, suggestion) is not None


def party_can_see(suggestion: Suggestion) -> bool:
    """Whether the parties may see it: it reached them (a withdrawn one only if it had)."""
    if suggestion.status in SEEN_BY_PARTIES:
        return True
    return suggestion.status == SuggestionStatus.withdrawn.value and suggestion.delivered_at is not None


def conflict_of_interest(user: User, suggestion: Suggestion) -> bool:
    """A reviewer of the pair's clusters whose own organisation is one of the two parties."""
    areas = {suggestion.need.s3_area, suggestion.offer.s3_area}
    return bool(areas & reviewer_areas(user)) and involves_own_organisation(user, suggestion)


def is_reviewer_of(user: User, suggestion: Suggestion) -> bool:
    """Facilitators of the need's or the offer's cluster (admins: of all), never of their own pairs."""
    areas = {suggestion.need.s3_area, suggestion.offer.s3_area}
    return bool(areas & reviewer_areas(user)) and not involves_own_organisation(user, suggestion)


def can_see_suggestion(user: User, suggestion: Suggestion) -> bool:
    if is_reviewer_of(user, suggestion):
        return True
    return involves_own_organisation(user, suggestion) and party_can_see(suggestion)


def can_answer_suggestion(user: User, suggestion: Suggestion) -> bool:
    """A party answers for its organisation, whatever its role (a facilitator too, as a member)."""
    return involves_own_organisation(user, suggestion) and party_can_see(suggestion)


def can_review_suggestion(user: User, suggestion: Suggestion) -> bool:
    return is_reviewer_of(user, suggestion)


def can_read_feedback(user: User, suggestion: Suggestion) -> bool:
    """The parties' reasons and the facilitator's note are for the reviewers' eyes."""
    return is_reviewer_of(user, suggestion)


def can_read_contact(user: User, suggestion: Suggestion) -> bool:
    return involves_own_organisation(user, suggestion) and suggestion.status == IDENTITY_REVEALED


def _postings_of(organisation_id: int):  # type: ignore[no-untyped-def]
    return select(Posting.id).where(Posting.organisation_id == organisation_id)


def _involves(posting_ids) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    return or_(Suggestion.need_id.in_(posting_ids), Suggestion.offer_id.in_(posting_ids))


def reviewable_suggestions_filter(user: User) -> ColumnElement[bool]:
    """The suggestions a user reviews: its clusters' pairs, except those of its own organisation and
    those with a posting on the other side of one of them (the information barrier)."""
    return _reviewable(user.organisation_id, reviewer_areas(user))


def party_visible_filter(user: User) -> ColumnElement[bool]:
    """The suggestions a user sees as a party: its organisation's, once they reached it."""
    return _party_visible(user.organisation_id)


def visible_suggestions_filter(user: User) -> ColumnElement[bool]:
    """SQL twin of `can_see_suggestion`: use it for every list and every lookup by id."""
    return _visible(user.organisation_id, reviewer_areas(user))


# The filters depend on a user only through its organisation and its reviewer areas: each is
# built once per pair (immutable expressions, safe to share between requests and threads), not
# per request. A user whose role or clusters change gets another pair's filter.
@lru_cache(maxsize=1024)
def _reviewable(organisation_id: int | None, areas: frozenset[str]) -> ColumnElement[bool]:
    if not areas:
        return false()
    in_areas = (
        true()
        if areas == ALL_AREAS
        else _involves(select(Posting.id).where(Posting.s3_area.in_(sorted(areas))))
    )
    if organisation_id is None:
        return in_areas
    # Neither its own organisation's pairs nor any pair with a posting on the other side of one
    # of them: reviewing those would name who its organisation was paired with (information barrier).
    return and_(
        in_areas, ~_involves(_postings_of(organisation_id)), ~_involves(counterparts_of(organisation_id))
    )


@lru_cache(maxsize=1024)
def _party_visible(organisation_id: int | None) -> ColumnElement[bool]:
    if organisation_id is None:
        return false()
    return and_(_involves(_postings_of(organisation_id)), _reached_parties())


@lru_cache(maxsize=1024)
def _visible(organisation_id: int | None, areas: frozenset[str]) -> ColumnElement[bool]:
    return or_(_reviewable(organisation_id, areas), _party_visible(organisation_id))


def _reached_parties() -> ColumnElement[bool]:
    """`party_can_see` in SQL."""
    return or_(
        Suggestion.status.in_(sorted(SEEN_BY_PARTIES)),
        and_(Suggestion.status == SuggestionStatus.withdrawn.value, Suggestion.delivered_at.is_not(None)),
    )


def party_visible_first():  # type: ignore[no-untyped-def]
    """An ORDER BY term: the suggestions the parties may see before those they may not."""
    return case((_reached_parties(), 0), else_=1)


def reviewers_among(users: Iterable[User], suggestion: Suggestion, barred: Iterable[int] = ()) -> list[User]:
    """The facilitators to ask for a review of `suggestion`: not those of its organisations, nor of
    the `barred` ones (`paired_organisations`: on the other side of another pair of its postings)."""
    barred = frozenset(barred)
    return [
        user
        for user in users
        if is_facilitator(user) and is_reviewer_of(user, suggestion) and user.organisation_id not in barred
    ]


def paired_organisations(posting_ids: Iterable[int]):  # type: ignore[no-untyped-def]
    """The organisations on the other side of any pair of these postings: the SQL twin, for one
    suggestion's reviewers, of what `reviewable_suggestions_filter` keeps out."""
    ids = sorted(set(posting_ids))
    return union(
        select(Posting.organisation_id)
        .join(Suggestion, Suggestion.offer_id == Posting.id)
        .where(Suggestion.need_id.in_(ids)),
        select(Posting.organisation_id)
        .join(Suggestion, Suggestion.need_id == Posting.id)
        .where(Suggestion.offer_id.in_(ids)),
    )


def facilitators_filter() -> ColumnElement[bool]:
    return User.role == Role.facilitator.value


# --- clusters, dashboard, desk, administration ----------------------------------------------


def can_manage_cluster_policy(user: User, s3_area: str) -> bool:
    """A cluster's review policy: its facilitators or an admin."""
    return s3_area in reviewer_areas(user)


def can_use_desk(user: User | None) -> bool:
    """The review desk and the cluster dashboard: facilitators and admins."""
    return is_admin(user) or is_facilitator(user)


def can_view_dashboard(user: User) -> bool:
    return can_use_desk(user)


def dashboard_areas(user: User) -> list[str]:
    return sorted(reviewer_areas(user))


def dashboard_postings_filter(user: User) -> ColumnElement[bool]:
    """The postings of the reviewer's clusters, never the other side of its organisation's pairs."""
    in_areas = Posting.s3_area.in_(dashboard_areas(user))
    if user.organisation_id is None:
        return in_areas
    return and_(in_areas, Posting.id.not_in(counterparts_of(user.organisation_id)))


def can_change_roles(user: User | None) -> bool:
    return is_admin(user)


def can_administer(user: User | None) -> bool:
    """The admin pages: users, roles, clusters' policies."""
    return is_admin(user)


def can_disable_user(actor: User, target: User) -> bool:
    """Admins end others' sessions and refuse their logins; nobody locks themselves out."""
    return is_admin(actor) and actor.id != target.id


def gives_up_own_admin(actor: User, target: User, role: Role) -> bool:
    """An admin may not demote itself: there would be no one left to undo it."""
    return actor.id == target.id and is_admin(actor) and role is not Role.admin


def clusters_for(role: Role, clusters: Iterable[str]) -> list[str]:
    """Only facilitators keep clusters: an admin reviews all, a member none."""
    return sorted(set(clusters)) if role is Role.facilitator else []


# --- funding calls and consortia -----------------------------------------------------------

# Where a proposal's members read each other: once invited (pending and rejected ones are the desk's).
SEEN_BY_MEMBERS = frozenset({"invited", "formed", "incomplete"})


def call_areas(call: Call) -> frozenset[str]:
    """The clusters a call belongs to: its S3 areas, every cluster when it names none."""
    return frozenset(call.s3_areas or ()) or ALL_AREAS


def can_publish_calls(user: User | None) -> bool:
    """Calls come from the clusters' facilitators and the admins, never from members."""
    return is_admin(user) or is_facilitator(user)


def can_publish_call_in(user: User, s3_areas: Iterable[str]) -> bool:
    """A facilitator publishes for its own clusters (naming at least one); an admin for any."""
    if is_admin(user):
        return True
    areas = frozenset(s3_areas)
    return is_facilitator(user) and bool(areas) and areas <= reviewer_areas(user)


def can_change_call_areas(user: User, call: Call, s3_areas: Iterable[str]) -> bool:
    """An edit of a call changes only the editor's own clusters in it (an admin's: any): one cluster's
    facilitator neither takes a joint call from another cluster nor hands it one."""
    if is_admin(user):
        return True
    after = frozenset(s3_areas) or ALL_AREAS
    return is_facilitator(user) and (call_areas(call) ^ after) <= reviewer_areas(user)


def can_read_call(user: User | None, call: Call) -> bool:
    """Calls are public to every signed-in user: they are announcements, not anyone's data."""
    return user is not None


def is_call_reviewer(user: User, call: Call) -> bool:
    """The facilitators of the call's clusters (admins: of all)."""
    return bool(call_areas(call) & reviewer_areas(user))


def can_manage_call(user: User, call: Call) -> bool:
    """Edit, close, read the funnel and the proposals: the call's facilitators and admins."""
    return is_call_reviewer(user, call)


def membership_of(user: User, consortium: Consortium) -> ConsortiumMember | None:
    """The user's organisation's place in the proposal, if it is one of its members."""
    for member in consortium.members:
        if belongs_to(user, member.organisation_id):
            return member
    return None


def is_consortium_reviewer(user: User, consortium: Consortium) -> bool:
    """The call's facilitators, except those whose own organisation is in the group (conflict)."""
    return is_call_reviewer(user, consortium.call) and membership_of(user, consortium) is None


def can_see_consortium(user: User, consortium: Consortium) -> bool:
    if is_consortium_reviewer(user, consortium):
        return True
    return membership_of(user, consortium) is not None and consortium.status in SEEN_BY_MEMBERS


def can_review_consortium(user: User, consortium: Consortium) -> bool:
    return is_consortium_reviewer(user, consortium)


def can_answer_consortium(user: User, consortium: Consortium) -> bool:
    """A member organisation answers its invitation (whatever its user's role)."""
    return membership_of(user, consortium) is not None and consortium.status in SEEN_BY_MEMBERS


def can_see_member_identity(user: User, consortium: Consortium, member: ConsortiumMember) -> bool:
    """Reviewers see who is proposed; a member sees another's name and contact only once both
    organisations accepted (as the EEN keeps profiles anonymous until both sides agree)."""
    own = membership_of(user, consortium)
    if own is not None:
        return own.id == member.id or (own.answer == "accepted" and member.answer == "accepted")
    return is_consortium_reviewer(user, consortium)


def consortium_candidates_filter(user: User) -> ColumnElement[bool]:
    """A superset of the proposals a user may see, for the query; each row then passes
    `can_see_consortium`, so a list never shows what a read would refuse."""
    if reviewer_areas(user):
        return true()
    if user.organisation_id is None:
        return false()
    return Consortium.id.in_(
        select(ConsortiumMember.consortium_id).where(ConsortiumMember.organisation_id == user.organisation_id)
    )


# --- privacy: export, erasure, audit ---------------------------------------------------------


# What a facilitator is told as a reviewer: its work for the clusters, not its organisation's data.
REVIEW_NOTIFICATIONS = frozenset({NotificationKind.suggestion_review.value, "consortium.review"})


def exported_notifications_filter(user_ids: Iterable[int]) -> ColumnElement[bool]:
    """The notifications an organisation's export holds: its users', except what they were told as
    reviewers (which the other members may not read)."""
    return and_(
        Notification.recipient_id.in_(sorted(user_ids)),
        Notification.kind.not_in(sorted(REVIEW_NOTIFICATIONS)),
    )


def exports_consortium(user: User, consortium: Consortium) -> bool:
    """An export holds the proposals the organisation is in, not those its facilitator reviews."""
    return membership_of(user, consortium) is not None and can_see_consortium(user, consortium)


def can_export_organisation(user: User, organisation_id: int) -> bool:
    """Every member of an organisation may download all of its data (members are equals today)."""
    return belongs_to(user, organisation_id)


def can_delete_organisation(user: User, organisation_id: int) -> bool:
    """An organisation's own members erase it (with a confirmation), and admins any organisation."""
    return belongs_to(user, organisation_id) or is_admin(user)


def can_read_audit(user: User | None) -> bool:
    return is_admin(user)
