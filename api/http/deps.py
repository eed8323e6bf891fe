"""Process resources and the FastAPI dependencies built on them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

import dramatiq
import redis
import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.auth.ratelimit import RateLimiter, Throttle
from api.auth.sessions import CSRF_HEADER, SESSION_COOKIE, find_session
from api.auth.tokens import csrf_for, same
from api.core.errors import Forbidden, Unauthorized
from api.core.settings import Settings
from api.core.uow import UnitOfWork, transaction
from api.models import AuthSession, User


@dataclass
class Resources:
    """What one API process holds: built in the lifespan, never at import."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    broker: dramatiq.Broker
    redis: redis.Redis
    aredis: aioredis.Redis
    secret_key: str

    @cached_property
    def limiter(self) -> RateLimiter:
        # Shares the app's Redis connections; built on first use, so tests may swap settings.
        return RateLimiter(self.redis.connection_pool, enabled=self.settings.rate_limit_enabled)


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_uow(resources: ResourcesDep) -> Iterator[UnitOfWork]:
    """The request's transaction: committed before the response, then its jobs are sent."""
    with transaction(resources.sessions, resources.broker) as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

_bearer = HTTPBearer(auto_error=False)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Authenticated:
    user: User
    session: AuthSession
    via_cookie: bool


def get_authenticated(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Authenticated:
    """The caller's live session: a bearer token (API clients) or the pages' HttpOnly cookie."""
    # Never a token in the URL: it would land in access logs and browser history.
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized("Log in first: send 'Authorization: Bearer <access token>'.")
    # One indexed lookup in the request's own unit of work (one session per request, not two).
    found = find_session(uow.session, token)
    if found is None:
        raise Unauthorized("The access token is invalid, expired or revoked: log in again.")
    via_cookie = credentials is None
    if via_cookie and request.method not in SAFE_METHODS:
        # A cookie is sent by the browser whoever made the page: changes also need the page's token.
        submitted = request.headers.get(CSRF_HEADER, "")
        if not same(submitted, csrf_for(resources.secret_key, token)):
            raise Forbidden(f"Send the page's CSRF token in the {CSRF_HEADER} header, or use a bearer token.")
    auth_session, user = found
    return Authenticated(user=user, session=auth_session, via_cookie=via_cookie)


AuthenticatedDep = Annotated[Authenticated, Depends(get_authenticated)]


def get_current_user(authenticated: AuthenticatedDep) -> User:
    return authenticated.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_throttle(request: Request, resources: ResourcesDep) -> Throttle:
    """The rate limits of the calling address on the account endpoints."""
    address = request.client.host if request.client else "unknown"
    return Throttle(resources.limiter, resources.settings, address)


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]
