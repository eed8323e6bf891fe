"""Signing in on the web: an HttpOnly cookie holding a server-side session, and CSRF tokens.

The cookie carries an opaque session token (api/auth/sessions.py), the same kind the JSON API
hands out as a bearer token, so logout, a password change or an admin's "disable" end it at
once. Every form posts back a CSRF token bound to that session, or, before login, to a random
per-visitor cookie: another site can make the browser send cookies, but cannot read the token,
and cannot log a visitor into the attacker's account either (login CSRF).
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.auth import sessions
from api.auth.sessions import SESSION_COOKIE
from api.auth.tokens import csrf_for, new_token, same
from api.core.errors import Forbidden
from api.http.deps import Resources
from api.models import AuthSession, User
from frontend.i18n import LANGUAGE_COOKIE

# A visitor's random pre-session secret: the login and registration forms' CSRF tokens bind to it.
VISITOR_COOKIE = "cm_csrf"


class LoginRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect to the login page."""


def _cookie_flags(resources: Resources) -> dict[str, object]:
    return {"httponly": True, "samesite": "lax", "secure": resources.settings.environment == "production"}


def sign_in(response: Response, request: Request, resources: Resources, session: Session, user: User) -> None:
    minutes = resources.settings.access_token_minutes
    token = sessions.open_session(
        session,
        user=user,
        kind=sessions.WEB,
        minutes=minutes,
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )
    response.set_cookie(SESSION_COOKIE, token, max_age=minutes * 60, **_cookie_flags(resources))  # type: ignore[arg-type]


def sign_out(response: Response, request: Request, session: Session) -> None:
    """End the browser's session on the server, not only its cookie."""
    found = current_session(request, session)
    if found is not None:
        sessions.revoke(session, found[0])
    response.delete_cookie(SESSION_COOKIE)


def current_session(request: Request, session: Session) -> tuple[AuthSession, User] | None:
    if not hasattr(request.state, "web_session"):
        token = request.cookies.get(SESSION_COOKIE)
        request.state.web_session = sessions.find_session(session, token) if token else None
    return request.state.web_session


def signed_in_user(request: Request, resources: Resources, session: Session) -> User | None:
    found = current_session(request, session)
    return found[1] if found else None


def csrf_token(resources: Resources, request: Request) -> str:
    """The token every form of this page carries (rendering may need a new visitor cookie)."""
    binding = request.cookies.get(SESSION_COOKIE) or request.cookies.get(VISITOR_COOKIE)
    if not binding:
        binding = getattr(request.state, "new_visitor_secret", None) or new_token()
        request.state.new_visitor_secret = binding
    return csrf_for(resources.secret_key, binding)


def remember_visitor(request: Request, response: Response, resources: Resources) -> None:
    """Set the visitor cookie the page's CSRF token was bound to, if rendering made one."""
    secret = getattr(request.state, "new_visitor_secret", None)
    if secret:
        response.set_cookie(VISITOR_COOKIE, secret, **_cookie_flags(resources))  # type: ignore[arg-type]


async def csrf_protected(request: Request) -> None:
    """Router dependency of every page: no form is accepted without its CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    submitted = (await request.form()).get("csrf")
    binding = request.cookies.get(SESSION_COOKIE) or request.cookies.get(VISITOR_COOKIE)
    expected = csrf_for(request.app.state.resources.secret_key, binding) if binding else None
    if not isinstance(submitted, str) or expected is None or not same(submitted, expected):
        raise Forbidden("The form expired or came from another site: reload the page and try again.")


def remember_language(response: Response, lang: str) -> None:
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
