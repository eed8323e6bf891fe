"""Signing in on the web: an HttpOnly session cookie, and a CSRF token bound to it.

The cookie carries the same signed access token the JSON API uses, so there is one way to prove
who someone is. Every form posts back a CSRF token derived from that cookie: another site can
make the browser send the cookie, but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.auth.security import create_access_token, user_id_from_token
from api.deps import Resources
from api.errors import Forbidden
from api.models import User
from frontend.i18n import LANGUAGE_COOKIE

SESSION_COOKIE = "cm_session"


class LoginRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect to the login page."""


def sign_in(response: Response, resources: Resources, user: User) -> None:
    settings = resources.settings
    token = create_access_token(user.id, secret=resources.secret_key, minutes=settings.access_token_minutes)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.access_token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production",
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def signed_in_user(request: Request, resources: Resources, session: Session) -> User | None:
    token = session_token(request)
    user_id = user_id_from_token(token, secret=resources.secret_key) if token else None
    return session.get(User, user_id) if user_id else None


def csrf_token(resources: Resources, request: Request) -> str:
    token = session_token(request) or "anonymous"
    return hmac.new(resources.secret_key.encode(), f"csrf:{token}".encode(), hashlib.sha256).hexdigest()


async def csrf_protected(request: Request) -> None:
    """Router dependency of every page: no form is accepted without its CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    submitted = (await request.form()).get("csrf")
    expected = csrf_token(request.app.state.resources, request)
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted, expected):
        raise Forbidden("The form expired or came from another site: reload the page and try again.")


def remember_language(response: Response, lang: str) -> None:
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
