"""HTTP endpoints for postings: thin wrappers over the postings service."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from api.authz import policy
from api.core.errors import InvalidInput
from api.http.deps import CurrentUser, UowDep
from api.http.fields import DbId, Offset
from api.models.enums import PostingKind, PostingStatus
from api.postings import service
from api.postings.schemas import PostingCreate, PostingRead, PostingUpdate, posting_read

router = APIRouter(prefix="/postings", tags=["postings"])


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostingRead,
    responses={
        200: {
            "model": PostingRead,
            "description": "The posting an earlier request with this Idempotency-Key made.",
        }
    },
)
def create_posting(
    body: PostingCreate, user: CurrentUser, uow: UowDep, request: Request, response: Response
) -> PostingRead:
    """An `Idempotency-Key` header (any 1-100 printable ASCII characters of yours, e.g. a UUID)
    makes a retry within a day get the posting the first request made (200) instead of a second one."""
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput("The Idempotency-Key header takes 1 to 100 printable ASCII characters (a UUID).")
    posting, created = service.create_posting(uow.session, jobs=uow.jobs, author=user, data=body, key=key)
    if not created:
        response.status_code = status.HTTP_200_OK
    return PostingRead.model_validate(posting)


@router.get("", response_model=list[PostingRead])
def list_postings(
    user: CurrentUser,
    uow: UowDep,
    mine: bool = False,
    kind: PostingKind | None = None,
    status: PostingStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[PostingRead]:
    postings = service.list_postings(
        uow.session,
        user=user,
        mine=mine,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        limit=limit,
        offset=offset,
    )
    return [posting_read(p, owner=policy.sees_match_outlook(user, p)) for p in postings]


@router.get("/{posting_id}", response_model=PostingRead)
def get_posting(posting_id: DbId, user: CurrentUser, uow: UowDep) -> PostingRead:
    posting, hidden = service.readable_posting(uow.session, user=user, posting_id=posting_id)
    return posting_read(posting, hidden, owner=policy.sees_match_outlook(user, posting))


@router.patch("/{posting_id}", response_model=PostingRead)
def update_posting(posting_id: DbId, body: PostingUpdate, user: CurrentUser, uow: UowDep) -> PostingRead:
    posting = service.update_posting(uow.session, jobs=uow.jobs, user=user, posting_id=posting_id, data=body)
    return PostingRead.model_validate(posting)


@router.delete("/{posting_id}", response_model=PostingRead)
def close_posting(posting_id: DbId, user: CurrentUser, uow: UowDep) -> PostingRead:
    posting = service.close_posting(uow.session, jobs=uow.jobs, user=user, posting_id=posting_id)
    return PostingRead.model_validate(posting)
