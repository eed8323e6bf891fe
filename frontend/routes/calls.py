"""Funding calls in the browser: the list, a call's page (with its funnel and proposals for its
facilitators), the publish form, and a member's consortium invitation. Same services as the API."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from api.authz import policy
from api.calls import proposals, service
from api.calls.schemas import CallCreate
from api.calls.terms import Programme
from api.core.errors import Forbidden, InvalidInput
from api.http.deps import ResourcesDep, UowDep
from api.http.fields import DbId
from api.models import CallFit, Posting, User
from api.models.base import utcnow
from api.models.enums import OrganisationType
from frontend.session import csrf_protected
from frontend.web import WebUser, field_errors, form_number, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])

# A deadline typed as a date closes at the end of that day, Italian time.
ROME = ZoneInfo("Europe/Rome")
RULE_FIELDS = ("min_partners", "max_partners", "min_companies", "min_research", "min_countries")
REVIEW_ACTIONS = ("approve", "reject")


def _publisher(user: User) -> User:
    if not policy.can_publish_calls(user):
        raise Forbidden("Funding calls are published by cluster facilitators and admins.")
    return user


def _form_context(**extra: Any) -> dict[str, Any]:
    return {
        "programmes": [p.value for p in Programme],
        "org_types": [t.value for t in OrganisationType],
        "rule_fields": RULE_FIELDS,
        **extra,
    }


@router.get("/calls", response_class=HTMLResponse)
def calls_page(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> HTMLResponse:
    calls = service.list_calls(uow.session, user=user, limit=200)
    fits: dict[int, list[CallFit]] = {}
    if user.organisation_id is not None:
        for fit in uow.session.scalars(
            select(CallFit).where(CallFit.organisation_id == user.organisation_id)
        ).unique():
            fits.setdefault(fit.call_id, []).append(fit)
    now = utcnow()
    return render(
        request,
        resources,
        "calls.html",
        user=user,
        calls=calls,
        fits=fits,
        days_left=lambda c: service.days_left(c, now),
        can_publish=policy.can_publish_calls(user),
    )


@router.get("/calls/new", response_class=HTMLResponse)
def call_form(request: Request, resources: ResourcesDep, user: WebUser) -> HTMLResponse:
    _publisher(user)
    form = {"programme": "fesr_er", "s3_areas": sorted(policy.reviewer_areas(user))[:1], "min_partners": "2"}
    return render(request, resources, "call_form.html", user=user, form=form, errors={}, **_form_context())


def _deadline(value: str) -> datetime | str:
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(23, 59, 59), ROME)
    except ValueError:
        return value  # pydantic says what is wrong with it


def _opening(value: str) -> datetime | None | str:
    if not value.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(0, 0), ROME)
    except ValueError:
        return value


# Thousands written the Italian way or with spaces: "1.000.000", "1 000 000" (not "1.5").
_GROUPED = re.compile(r"\d{1,3}(?:[. ]\d{3})+")


def _number(value: str) -> int | str | None:
    value = value.strip()
    return form_number(re.sub(r"[. ]", "", value) if _GROUPED.fullmatch(value) else value)


@router.post("/calls", response_class=HTMLResponse)
async def publish_call(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> Response:
    _publisher(user)
    raw = await request.form()
    form: dict[str, Any] = {k: str(v) for k, v in raw.items() if k not in ("s3_areas", "eligible_types")}
    form["s3_areas"] = [str(v) for v in raw.getlist("s3_areas")]
    form["eligible_types"] = [str(v) for v in raw.getlist("eligible_types")]
    rule = {name: _number(form.get(name, "")) for name in RULE_FIELDS}
    try:
        data = CallCreate(
            title=form.get("title", ""),
            description=form.get("description", ""),
            keywords=form.get("keywords", "").split(","),
            programme=form.get("programme", ""),
            link=form.get("link", "").strip() or None,
            opens_at=_opening(form.get("opens_at", "")),
            deadline=_deadline(form.get("deadline", "")),
            s3_areas=form["s3_areas"],
            area_required=form.get("area_required") == "on",
            eligible_types=form["eligible_types"],
            trl_min=_number(form.get("trl_min", "")),
            trl_max=_number(form.get("trl_max", "")),
            budget_min=_number(form.get("budget_min", "")),
            budget_max=_number(form.get("budget_max", "")),
            consortium_rule={k: v for k, v in rule.items() if v is not None},
        )
        call, _ = service.publish_call(uow.session, jobs=uow.jobs, author=user, data=data)
    except ValidationError as exc:
        errors = field_errors(exc)
        return render(
            request, resources, "call_form.html", user=user, form=form, errors=errors, status_code=422,
            **_form_context(),
        )  # fmt: skip
    except InvalidInput as exc:
        return render(
            request, resources, "call_form.html", user=user, form=form, errors={}, problem=exc.message,
            status_code=422, **_form_context(),
        )  # fmt: skip
    return redirect(f"/calls/{call.id}?published=1")


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_page(
    call_id: DbId, request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser
) -> HTMLResponse:
    call = service.get_call(uow.session, user=user, call_id=call_id)
    manager = policy.can_manage_call(user, call)
    mine = []
    if user.organisation_id is not None:
        mine = list(
            uow.session.scalars(
                select(CallFit)
                .join(Posting, Posting.id == CallFit.posting_id)
                .where(CallFit.call_id == call.id, CallFit.organisation_id == user.organisation_id)
            ).unique()
        )
    found = proposals.list_consortia(uow.session, user=user, call_id=call.id, limit=200)
    groups = [(c, [proposals.member_view(uow.session, user, c, m) for m in c.members]) for c in found]
    return render(
        request,
        resources,
        "call.html",
        user=user,
        call=call,
        open=service.is_open(call, utcnow()),
        days_left=service.days_left(call, utcnow()),
        manager=manager,
        funnel=service.funnel_of(uow.session, call) if manager else None,
        fits=mine,
        groups=groups,
        can_review=lambda c: policy.can_review_consortium(user, c),
    )


@router.post("/calls/consortia/{consortium_id}/review", response_class=HTMLResponse)
def review_consortium(
    consortium_id: DbId,
    uow: UowDep,
    user: WebUser,
    action: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Approve (invitations go out) or reject a proposal from the call's page."""
    if action not in REVIEW_ACTIONS:  # never read an unknown action as one of the two
        raise InvalidInput("Unknown action: choose approve or reject. Nothing was changed.")
    if action == "approve":
        consortium = proposals.approve(
            uow.session, jobs=uow.jobs, user=user, consortium_id=consortium_id, note=note
        )
    else:
        if len(note.strip()) < 3:
            raise InvalidInput("Rejecting a proposal needs a note of at least 3 characters.")
        consortium = proposals.reject(uow.session, user=user, consortium_id=consortium_id, reason=note)
    return redirect(f"/calls/{consortium.call_id}?reviewed={action}#consortium-{consortium.id}")


@router.get("/app/consortia/{consortium_id}", response_class=HTMLResponse)
def consortium_page(
    consortium_id: DbId, request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser
) -> HTMLResponse:
    consortium = proposals.get_consortium(uow.session, user=user, consortium_id=consortium_id)
    members = [proposals.member_view(uow.session, user, consortium, m) for m in consortium.members]
    own = policy.membership_of(user, consortium)
    return render(
        request,
        resources,
        "consortium.html",
        user=user,
        c=consortium,
        members=members,
        can_answer=own is not None and own.answer is None and consortium.status == proposals.INVITED,
    )


@router.post("/app/consortia/{consortium_id}/answer", response_class=HTMLResponse)
def answer_consortium(
    consortium_id: DbId, uow: UowDep, user: WebUser, accept: Annotated[str, Form()] = ""
) -> Response:
    if accept not in ("yes", "no"):
        raise InvalidInput("Answer yes or no. Nothing was changed.")
    proposals.answer(
        uow.session, jobs=uow.jobs, user=user, consortium_id=consortium_id, accept=accept == "yes"
    )
    return redirect(f"/app/consortia/{consortium_id}")
