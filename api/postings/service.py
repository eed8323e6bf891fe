"""Publishing, editing and closing postings, and reading them as the policy allows."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.authz import policy
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.core.jobs import EMBED_POSTING, JobBuffer
from api.models import Embedding, Posting, RequestKey, Suggestion, User
from api.models.base import utcnow
from api.models.enums import PipelineState, PostingStatus
from api.postings.schemas import PostingCreate, PostingUpdate
from api.suggestions.service import withdraw_open_suggestions
from embeddings.text import detect_language

log = logging.getLogger(__name__)

DEFAULT_LIFETIME = timedelta(days=180)
# Fields whose change alters what is embedded and matched.
MATCHED_FIELDS = ("title", "description", "keywords", "s3_area", "trl")


def create_posting(
    session: Session, *, jobs: JobBuffer, author: User, data: PostingCreate, key: str | None = None
) -> tuple[Posting, bool]:
    """A new posting, or with an idempotency `key` the author used before, the posting that
    request made (its content as then); (posting, created)."""
    if not policy.can_create_posting(author):
        raise Forbidden("Only members of an organisation can publish needs and offers.")
    now = utcnow()
    if data.expires_at is not None and data.expires_at <= now:
        raise InvalidInput("expires_at must be in the future.")
    claim = None
    if key is not None:
        earlier = _keyed_posting(session, author, key)
        if earlier is not None:
            return earlier, False
        claim = RequestKey(user_id=author.id, key=key)
        try:
            # First in the transaction: a concurrent request with the key waits here, then fails.
            with session.begin_nested():
                session.add(claim)
        except IntegrityError:
            earlier = _keyed_posting(session, author, key)
            if earlier is None:
                raise Conflict(f"A request with Idempotency-Key {key!r} is still being processed.") from None
            return earlier, False
    posting = Posting(
        kind=data.kind.value,
        organisation_id=author.organisation_id,
        created_by_id=author.id,
        title=data.title,
        description=data.description,
        keywords=data.keywords,
        s3_area=data.s3_area.value,
        trl=data.trl,
        language=data.language or detect_language(f"{data.title}. {data.description}"),
        status=PostingStatus.open.value,
        pipeline_state=PipelineState.pending.value,
        pipeline_updated_at=now,
        expires_at=data.expires_at or now + DEFAULT_LIFETIME,
    )
    session.add(posting)
    session.flush()
    if claim is not None:
        claim.posting_id = posting.id
    jobs.enqueue(EMBED_POSTING, posting.id, posting.revision)
    return posting, True


# Kept a day: long enough for any client's retries, then pruned by the reconciler.
REQUEST_KEYS_KEPT = timedelta(days=1)


def _keyed_posting(session: Session, author: User, key: str) -> Posting | None:
    posting_id = session.scalar(
        select(RequestKey.posting_id).where(RequestKey.user_id == author.id, RequestKey.key == key)
    )
    return session.get(Posting, posting_id) if posting_id is not None else None


def prune_request_keys(session: Session, *, now: datetime) -> int:
    pruned = session.execute(delete(RequestKey).where(RequestKey.created_at < now - REQUEST_KEYS_KEPT))
    return pruned.rowcount or 0


def get_posting(session: Session, posting_id: int) -> Posting:
    posting = session.get(Posting, posting_id)
    if posting is None:
        raise NotFound(f"Posting {posting_id} does not exist.")
    return posting


def _reached_via(session: Session, user: User, posting: Posting) -> Suggestion | None:
    """The suggestion through which this user reaches another organisation's posting, if any.

    A pair with the user's own organisation comes first, whatever its status (the user then
    reads the posting as a party, see `policy.hidden_posting_fields`); among those, or else among
    the suggestions the user can see, the one that reveals the most (introduced first).
    """
    linked = or_(Suggestion.need_id == posting.id, Suggestion.offer_id == posting.id)
    reveals_most = (case((Suggestion.status == policy.IDENTITY_REVEALED, 0), else_=1), Suggestion.id)
    if user.organisation_id is not None:
        own = select(Posting.id).where(Posting.organisation_id == user.organisation_id)
        pairs = or_(Suggestion.need_id.in_(own), Suggestion.offer_id.in_(own))
        found = session.scalars(
            select(Suggestion).where(linked, pairs).order_by(policy.party_visible_first(), *reveals_most)
        )
        if (suggestion := found.unique().first()) is not None:
            return suggestion
    query = select(Suggestion).where(linked, policy.visible_suggestions_filter(user)).order_by(*reveals_most)
    return session.scalars(query.limit(1)).unique().first()


def readable_posting(session: Session, *, user: User, posting_id: int) -> tuple[Posting, frozenset[str]]:
    """The posting and the fields this user may not read; 404 when it may not read it at all."""
    posting = get_posting(session, posting_id)
    via = None if policy.belongs_to(user, posting.organisation_id) else _reached_via(session, user, posting)
    hidden = policy.hidden_posting_fields(user, posting, via=via)
    if hidden is None:
        # 404, not 403: another organisation's postings are not even confirmed to exist.
        raise NotFound(f"Posting {posting_id} does not exist.")
    return posting, hidden


def open_at_revision(session: Session, posting_id: int, revision: int) -> Posting | None:
    """The posting, if a pipeline message about this revision is still relevant to it."""
    posting = session.get(Posting, posting_id)
    if posting is None:
        log.info("posting %s no longer exists", posting_id)
        return None
    if posting.status != PostingStatus.open.value or posting.revision != revision:
        return None  # closed, or a newer revision has its own messages
    return posting


def get_readable_posting(session: Session, *, user: User, posting_id: int) -> Posting:
    return readable_posting(session, user=user, posting_id=posting_id)[0]


def get_own_posting(session: Session, *, user: User, posting_id: int) -> Posting:
    posting = get_readable_posting(session, user=user, posting_id=posting_id)
    if not policy.can_edit_posting(user, posting):
        raise Forbidden("Only the organisation that published a posting can change it.")
    return posting


def list_postings(
    session: Session,
    *,
    user: User,
    mine: bool,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Posting]:
    query = select(Posting).where(policy.visible_postings_filter(user, mine=mine)).order_by(Posting.id.desc())
    if kind:
        query = query.where(Posting.kind == kind)
    if status:
        query = query.where(Posting.status == status)
    return list(session.scalars(query.limit(limit).offset(offset)))


def update_posting(
    session: Session, *, jobs: JobBuffer, user: User, posting_id: int, data: PostingUpdate
) -> Posting:
    posting = get_own_posting(session, user=user, posting_id=posting_id)
    if posting.status == PostingStatus.closed.value:
        raise InvalidInput(f"Posting {posting_id} is closed and can no longer be edited.")
    changes = data.model_dump(exclude_unset=True)
    for name in ("title", "description", "s3_area"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be removed, only changed.")
    if "s3_area" in changes:
        changes["s3_area"] = changes["s3_area"].value if changes["s3_area"] else None
    rematch = any(name in changes and changes[name] != getattr(posting, name) for name in MATCHED_FIELDS)
    for name, value in changes.items():
        setattr(posting, name, value)
    if rematch:
        # Incremented in SQL, so two concurrent edits get two revisions, never the same one.
        posting.revision = Posting.revision + 1
        posting.pipeline_state = PipelineState.pending.value
        posting.pipeline_error = None
        posting.pipeline_attempts = 0
        posting.pipeline_updated_at = utcnow()
        session.flush()
        session.refresh(posting)
        jobs.enqueue(EMBED_POSTING, posting.id, posting.revision)
    session.flush()
    return posting


def close_posting(session: Session, *, jobs: JobBuffer, user: User, posting_id: int) -> Posting:
    posting = get_own_posting(session, user=user, posting_id=posting_id)
    if posting.status != PostingStatus.closed.value:
        close(session, jobs=jobs, posting=posting)
    return posting


def close(session: Session, *, jobs: JobBuffer, posting: Posting) -> None:
    """Close a posting: out of every index replica, its open suggestions withdrawn."""
    now = utcnow()
    posting.status = PostingStatus.closed.value
    posting.closed_at = now
    embedding = session.get(Embedding, posting.id)
    if embedding is not None and embedding.active:
        embedding.active = False
        embedding.changed_at = now
    withdraw_open_suggestions(session, jobs=jobs, posting=posting)
    session.flush()
