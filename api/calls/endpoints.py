"""HTTP endpoints for funding calls and consortium proposals: thin wrappers over the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from api.authz import policy
from api.calls import proposals, service
from api.calls.schemas import (
    CallCreate,
    CallRead,
    ConsortiumAnswer,
    ConsortiumApproval,
    ConsortiumRead,
    ConsortiumRejection,
    FunnelRead,
    MemberRead,
)
from api.http.deps import CurrentUser, UowDep
from api.http.fields import DbId, DbIdQuery, Offset
from api.models import Call, Consortium, User
from api.models.base import utcnow
from api.models.enums import S3Area

router = APIRouter(tags=["calls"])


def call_read(call: Call) -> CallRead:
    now = utcnow()
    read = CallRead.model_validate({**_columns(call), "days_left": service.days_left(call, now)})
    if not service.is_open(call, now):
        read.status = service.CLOSED  # past its deadline: closed, whether or not the reconciler ran
    return read


def _columns(call: Call) -> dict:  # type: ignore[type-arg]
    return {name: getattr(call, name) for name in CallRead.model_fields if name != "days_left"}


def consortium_read(session: Session, user: User, consortium: Consortium) -> ConsortiumRead:
    members = [MemberRead(**proposals.member_view(session, user, consortium, m)) for m in consortium.members]
    reviewer = policy.is_consortium_reviewer(user, consortium)
    return ConsortiumRead(
        id=consortium.id,
        call=call_read(consortium.call),
        status=consortium.status,
        score=consortium.score,
        covers=list(consortium.explanation.get("covers", [])),
        members=members,
        review_note=consortium.review_note if reviewer else None,
        created_at=consortium.created_at,
        updated_at=consortium.updated_at,
    )


@router.post(
    "/calls",
    status_code=status.HTTP_201_CREATED,
    response_model=CallRead,
    responses={200: {"model": CallRead, "description": "The call with this external_id, updated"}},
)
def publish_call(body: CallCreate, user: CurrentUser, uow: UowDep, response: Response) -> CallRead:
    """Facilitators (for their clusters) and admins publish a call; the same external_id updates it."""
    call, created = service.publish_call(uow.session, jobs=uow.jobs, author=user, data=body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return call_read(call)


@router.get("/calls", response_model=list[CallRead])
def list_calls(
    user: CurrentUser,
    uow: UowDep,
    include_closed: bool = False,
    area: S3Area | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[CallRead]:
    calls = service.list_calls(
        uow.session,
        user=user,
        open_only=not include_closed,
        area=area.value if area else None,
        limit=limit,
        offset=offset,
    )
    return [call_read(c) for c in calls]


@router.get("/calls/{call_id}", response_model=CallRead)
def get_call(call_id: DbId, user: CurrentUser, uow: UowDep) -> CallRead:
    return call_read(service.get_call(uow.session, user=user, call_id=call_id))


@router.put("/calls/{call_id}", response_model=CallRead)
def edit_call(call_id: DbId, body: CallCreate, user: CurrentUser, uow: UowDep) -> CallRead:
    """The call's facilitators (and admins) replace its terms, e.g. a deadline the programme moved."""
    return call_read(service.edit_call(uow.session, jobs=uow.jobs, user=user, call_id=call_id, data=body))


@router.delete("/calls/{call_id}", response_model=CallRead)
def close_call(call_id: DbId, user: CurrentUser, uow: UowDep) -> CallRead:
    """The call's facilitators close it before its deadline (e.g. withdrawn by the programme)."""
    return call_read(service.close_call(uow.session, user=user, call_id=call_id))


@router.get("/calls/{call_id}/funnel", response_model=FunnelRead)
def call_funnel(call_id: DbId, user: CurrentUser, uow: UowDep) -> FunnelRead:
    """Fitting postings → organisations told → consortia proposed → consortia accepted."""
    call = service.managed_call(uow.session, user=user, call_id=call_id)
    return FunnelRead(**vars(service.funnel_of(uow.session, call)))


@router.get("/consortia", response_model=list[ConsortiumRead])
def list_consortia(
    user: CurrentUser,
    uow: UowDep,
    call_id: DbIdQuery | None = None,
    status: Annotated[
        str | None, Query(pattern="^(pending_review|invited|formed|incomplete|rejected)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[ConsortiumRead]:
    """Proposals you are a member of (once invited), or those of the calls you facilitate."""
    found = proposals.list_consortia(
        uow.session, user=user, call_id=call_id, status=status, limit=limit, offset=offset
    )
    return [consortium_read(uow.session, user, c) for c in found]


@router.get("/consortia/{consortium_id}", response_model=ConsortiumRead)
def get_consortium(consortium_id: DbId, user: CurrentUser, uow: UowDep) -> ConsortiumRead:
    consortium = proposals.get_consortium(uow.session, user=user, consortium_id=consortium_id)
    return consortium_read(uow.session, user, consortium)


@router.post("/consortia/{consortium_id}/approval", response_model=ConsortiumRead)
def approve_consortium(
    consortium_id: DbId, body: ConsortiumApproval, user: CurrentUser, uow: UowDep
) -> ConsortiumRead:
    """A facilitator of the call sends the proposal: each member gets an invitation."""
    consortium = proposals.approve(
        uow.session, jobs=uow.jobs, user=user, consortium_id=consortium_id, note=body.note
    )
    return consortium_read(uow.session, user, consortium)


@router.post("/consortia/{consortium_id}/rejection", response_model=ConsortiumRead)
def reject_consortium(
    consortium_id: DbId, body: ConsortiumRejection, user: CurrentUser, uow: UowDep
) -> ConsortiumRead:
    consortium = proposals.reject(uow.session, user=user, consortium_id=consortium_id, reason=body.reason)
    return consortium_read(uow.session, user, consortium)


@router.post("/consortia/{consortium_id}/answer", response_model=ConsortiumRead)
def answer_consortium(
    consortium_id: DbId, body: ConsortiumAnswer, user: CurrentUser, uow: UowDep
) -> ConsortiumRead:
    """A member organisation accepts or declines; contacts show between those who accepted."""
    consortium = proposals.answer(
        uow.session, jobs=uow.jobs, user=user, consortium_id=consortium_id, accept=body.accept
    )
    return consortium_read(uow.session, user, consortium)
