"""What every page shares: the signed-in user, the language, rendering, redirects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.authz import policy
from api.http.deps import ResourcesDep, UowDep
from api.matching.explain import AREA_NAMES, LABEL_NAMES, score_label, score_percent
from api.models import User
from api.models.enums import S3Area
from frontend.i18n import language_of, translator
from frontend.session import LoginRequired, csrf_token, remember_visitor, signed_in_user

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["percent"] = score_percent
# Templates ask the policy which links to show; they never look at roles themselves.
templates.env.globals.update(can_use_desk=policy.can_use_desk, can_administer=policy.can_administer)


def optional_user(request: Request, resources: ResourcesDep, uow: UowDep) -> User | None:
    return signed_in_user(request, resources, uow.session)


def required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


WebUser = Annotated[User, Depends(required_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


def render(
    request: Request,
    resources: Any,
    template: str,
    *,
    user: User | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language_of(request)
    t = translator(lang)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": t,
            "user": user,
            "csrf": csrf_token(resources, request),
            "areas": [(a.value, AREA_NAMES[a.value][lang]) for a in S3Area],
            "area_name": lambda key: AREA_NAMES.get(key, {}).get(lang, key),
            # A score reads as a word; its percentage goes in the details.
            "score_label": lambda score: LABEL_NAMES[score_label(score)][lang],
            "score_percent": score_percent,
            **context,
        },
        status_code=status_code,
    )
    remember_visitor(request, response, resources)
    return response


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors keyed by field ("title", "organization.name"; list positions dropped)."""
    return {".".join(str(p) for p in e["loc"] if isinstance(p, str)): e["msg"] for e in exc.errors()}


# The longest number a form field may hold (a budget in euros has at most 12 digits).
MAX_FORM_DIGITS = 18


def form_number(text: str) -> int | str | None:
    """A form's number field: None when empty, an int when it is ASCII digits, else the text
    itself, for the schema to refuse with its own message (str.isdigit alone takes '²', which
    int() refuses; and int() refuses more than 4,300 digits, which no field of ours needs)."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_FORM_DIGITS else text


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


home_of = policy.home_of
