"""HTTP endpoints for suggestions: list, read, answer; approve or reject (facilitators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from api.authz import policy
from api.core.uow import UnitOfWork
from api.http.deps import CurrentUser, ReaderDep, UowDep
from api.http.fields import DbId, DbIdQuery, Offset
from api.http.responses import json_response
from api.models import Posting, Suggestion, User
from api.models.enums import SuggestionStatus
from api.postings.schemas import PostingRead, posting_read
from api.suggestions import service
from api.suggestions.schemas import (
    SuggestionApproval,
    SuggestionRead,
    SuggestionRejection,
    SuggestionResponseRequest,
)

router = APIRouter(prefix="/suggestions", tags=["suggestions"])

# The reads answer bytes serialized here (api/http/responses.py), not models FastAPI checks again.
_ONE = TypeAdapter(SuggestionRead)
_MANY = TypeAdapter(list[SuggestionRead])


def _posting(user: User, posting: Posting, suggestion: Suggestion) -> PostingRead:
    # The suggestion was checked visible; the policy says what of each side this reader may see.
    hidden = policy.hidden_posting_fields(user, posting, via=suggestion)
    return posting_read(
        posting, policy.IDENTITY_FIELDS | policy.INTERNAL_FIELDS if hidden is None else hidden
    )


def _read(session: Session, user: User, suggestion: Suggestion) -> SuggestionRead:
    side = policy.side_of(user, suggestion)
    contact = None
    if side and policy.can_read_contact(user, suggestion):
        other = suggestion.offer if side == "need" else suggestion.need
        contact = service.contact_of(session, other.organisation)
    return SuggestionRead(
        id=suggestion.id,
        need=_posting(user, suggestion.need, suggestion),
        offer=_posting(user, suggestion.offer, suggestion),
        score=suggestion.score,
        score_parts=suggestion.score_parts,
        explanation=suggestion.explanation,
        status=suggestion.status,
        your_side=side,
        need_interested=suggestion.need_interested,
        offer_interested=suggestion.offer_interested,
        contact=contact,
        feedback=service.feedback_of(suggestion) if policy.can_read_feedback(user, suggestion) else None,
        created_at=suggestion.created_at,
        updated_at=suggestion.updated_at,
    )


@router.get("", response_model=list[SuggestionRead])
async def list_suggestions(
    reader: ReaderDep,
    posting_id: DbIdQuery | None = None,
    status: SuggestionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Response:
    def read(uow: UnitOfWork, user: User) -> Response:
        suggestions = service.list_suggestions(
            uow.session,
            user=user,
            posting_id=posting_id,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
        )
        return json_response([_read(uow.session, user, s) for s in suggestions], _MANY)

    return await reader.run(read)


@router.get("/{suggestion_id}", response_model=SuggestionRead)
async def get_suggestion(suggestion_id: DbId, reader: ReaderDep) -> Response:
    def read(uow: UnitOfWork, user: User) -> Response:
        suggestion = service.get_suggestion(uow.session, user=user, suggestion_id=suggestion_id)
        return json_response(_read(uow.session, user, suggestion), _ONE)

    return await reader.run(read)


@router.post("/{suggestion_id}/response", response_model=SuggestionRead)
def respond(
    suggestion_id: DbId, body: SuggestionResponseRequest, user: CurrentUser, uow: UowDep
) -> SuggestionRead:
    suggestion = service.respond(
        uow.session,
        jobs=uow.jobs,
        user=user,
        suggestion_id=suggestion_id,
        interested=body.interested,
        reason=body.reason,
    )
    return _read(uow.session, user, suggestion)


@router.post("/{suggestion_id}/approval", response_model=SuggestionRead)
def approve(suggestion_id: DbId, body: SuggestionApproval, user: CurrentUser, uow: UowDep) -> SuggestionRead:
    """A facilitator lets a suggestion waiting for review go out to both parties."""
    suggestion = service.approve(
        uow.session, jobs=uow.jobs, user=user, suggestion_id=suggestion_id, note=body.note
    )
    return _read(uow.session, user, suggestion)


@router.post("/{suggestion_id}/rejection", response_model=SuggestionRead)
def reject(suggestion_id: DbId, body: SuggestionRejection, user: CurrentUser, uow: UowDep) -> SuggestionRead:
    """A facilitator rejects a suggested pair, with the reason; it is never suggested again."""
    suggestion = service.reject(
        uow.session, jobs=uow.jobs, user=user, suggestion_id=suggestion_id, reason=body.reason
    )
    return _read(uow.session, user, suggestion)
