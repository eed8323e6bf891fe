"""The member portal: my postings, the posting form, suggestions and answers, my profile."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.authz import policy
from api.http.deps import ResourcesDep, UowDep
from api.http.fields import DbId
from api.matching.explain import posting_advice
from api.models.enums import EmailFrequency, OrganisationType, PostingKind
from api.organisations.schemas import OrganisationCreate
from api.organisations.service import update_organisation
from api.postings.schemas import MatchOutlook, PostingCreate, match_outlook
from api.postings.service import create_posting, list_postings
from api.suggestions import service as suggestions
from frontend.i18n import LANGUAGES
from frontend.session import csrf_protected, remember_language
from frontend.web import WebUser, field_errors, form_number, home_of, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])


@router.get("/app", response_class=HTMLResponse)
def dashboard(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> Response:
    if user.organisation_id is None:
        return redirect(home_of(user))
    postings = list_postings(uow.session, user=user, mine=True, limit=100)
    found = suggestions.list_suggestions(uow.session, user=user, limit=100)
    suggested = {p.id for s in found for p in (s.need, s.offer)}
    return render(
        request,
        resources,
        "dashboard.html",
        user=user,
        postings=postings,
        suggestions=found,
        # No silent dead ends: a matched posting without a suggestion says so, with what would help.
        dead_ends={
            p.id: match_outlook(p) or MatchOutlook(nearest_scores=[], threshold=0, advice=posting_advice(p))
            for p in postings
            if p.pipeline_state == "matched" and p.id not in suggested
        },
    )


@router.get("/app/postings/new", response_class=HTMLResponse)
def posting_form(
    request: Request, resources: ResourcesDep, user: WebUser, kind: PostingKind = PostingKind.need
) -> HTMLResponse:
    return render(
        request,
        resources,
        "posting_form.html",
        user=user,
        form={"kind": kind.value, "submission": new_submission()},
        errors={},
    )


def new_submission() -> str:
    """The form's idempotency key: a second submit of the same form (a double click, a reload
    after a dropped answer) publishes nothing twice."""
    return secrets.token_urlsafe(16)


@router.post("/app/postings", response_class=HTMLResponse)
def publish(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    kind: Annotated[str, Form()] = "need",
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    s3_area: Annotated[str, Form()] = "",
    trl: Annotated[str, Form()] = "",
    submission: Annotated[str, Form(max_length=64)] = "",  # stored as "form:<it>" (100 at most)
) -> Response:
    form = {
        "kind": kind,
        "title": title,
        "description": description,
        "keywords": keywords,
        "s3_area": s3_area,
        "trl": trl,
        "submission": submission or new_submission(),
    }
    try:
        data = PostingCreate(
            kind=kind,
            title=title,
            description=description,
            keywords=[k for k in keywords.split(",")],
            s3_area=s3_area,
            trl=form_number(trl),
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        return render(
            request, resources, "posting_form.html", user=user, form=form, errors=errors, status_code=422
        )
    create_posting(
        uow.session, jobs=uow.jobs, author=user, data=data, key=f"form:{submission}" if submission else None
    )
    return redirect("/app?posted=1")


@router.get("/app/suggestions/{suggestion_id}", response_class=HTMLResponse)
def suggestion_page(
    suggestion_id: DbId, request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser
) -> HTMLResponse:
    suggestion = suggestions.get_suggestion(uow.session, user=user, suggestion_id=suggestion_id)
    side = policy.side_of(user, suggestion)
    contact = None
    if side and policy.can_read_contact(user, suggestion):
        other = suggestion.offer if side == "need" else suggestion.need
        contact = suggestions.contact_of(uow.session, other.organisation)
    # What of each side this reader may see (the API's GET /suggestions/{id} hides the same).
    hidden = {
        p.id: policy.hidden_posting_fields(user, p, via=suggestion)
        for p in (suggestion.need, suggestion.offer)
    }
    hidden = {key: policy.IDENTITY_FIELDS if value is None else value for key, value in hidden.items()}
    return render(
        request,
        resources,
        "suggestion.html",
        user=user,
        s=suggestion,
        side=side,
        hidden=hidden,
        contact=contact,
        my_answer=getattr(suggestion, f"{side}_interested") if side else None,
    )


@router.post("/app/suggestions/{suggestion_id}/answer")
def answer(
    suggestion_id: DbId,
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    interested: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    suggestions.respond(
        uow.session,
        jobs=uow.jobs,
        user=user,
        suggestion_id=suggestion_id,
        interested=interested == "yes",
        reason=reason,
    )
    return redirect(f"/app/suggestions/{suggestion_id}")


def _profile(
    request: Request, resources, user, *, errors: dict[str, str] | None = None, status_code: int = 200
):  # type: ignore[no-untyped-def]
    return render(
        request,
        resources,
        "profile.html",
        user=user,
        frequencies=[f.value for f in EmailFrequency],
        org_types=[t.value for t in OrganisationType],
        errors=errors or {},
        status_code=status_code,
    )


@router.get("/app/profile", response_class=HTMLResponse)
def profile_page(request: Request, resources: ResourcesDep, user: WebUser) -> HTMLResponse:
    return _profile(request, resources, user)


@router.post("/app/organisation", response_class=HTMLResponse)
def save_organisation(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    name: Annotated[str, Form()] = "",
    org_type: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    contact_email: Annotated[str, Form()] = "",
    clusters: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        data = OrganisationCreate(
            name=name,
            type=org_type,
            city=city,
            clusters=clusters or [],
            contact_email=contact_email.strip() or None,
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        return _profile(request, resources, user, errors=errors, status_code=422)
    update_organisation(uow.session, user=user, data=data)
    return redirect("/app/profile?saved=1")


@router.post("/app/profile", response_class=HTMLResponse)
def save_profile(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    email_frequency: Annotated[EmailFrequency, Form()],
    language: Annotated[str, Form()] = "it",
) -> Response:
    user.email_frequency = email_frequency.value
    user.language = language if language in LANGUAGES else "it"
    response = redirect("/app/profile?saved=1")
    remember_language(response, user.language)
    return response
