"""Process resources and the FastAPI dependencies built on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, TypeVar

import dramatiq
import redis
import redis.asyncio as aioredis
from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

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


# Dependencies that do no I/O are `async def`: FastAPI runs a sync one in the thread pool, a
# hop per dependency per request. Those that touch the database stay sync (in the pool).


async def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_uow(resources: ResourcesDep) -> AsyncIterator[UnitOfWork]:
    """The request's transaction: committed before the response, then its jobs are sent.

    Opening it does no I/O (the session connects on first use), so it happens on the event
    loop; the commit or rollback (database, then Redis for the jobs) runs in a thread, shielded
    from cancellation and outside the pool's capacity, as FastAPI runs a sync dependency's exit:
    a connection is always given back, even when every pool thread waits for one.
    """
    context = transaction(resources.sessions, resources.broker)
    uow = context.__enter__()
    try:
        yield uow
    except BaseException as exc:
        with CancelScope(shield=True):
            await to_thread.run_sync(
                context.__exit__, type(exc), exc, exc.__traceback__, limiter=CapacityLimiter(1)
            )
        raise
    with CancelScope(shield=True):
        await to_thread.run_sync(context.__exit__, None, None, None, limiter=CapacityLimiter(1))


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

_bearer = HTTPBearer(auto_error=False)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Authenticated:
    user: User
    session: AuthSession
    via_cookie: bool


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    # Never a token in the URL: it would land in access logs and browser history.
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized("Log in first: send 'Authorization: Bearer <access token>'.")
    return token


def authenticate(
    request: Request,
    resources: Resources,
    session: Session,
    credentials: HTTPAuthorizationCredentials | None,
) -> Authenticated:
    """The caller's live session: a bearer token (API clients) or the pages' HttpOnly cookie."""
    token = _token(request, credentials)
    # One indexed lookup in the request's own unit of work (one session per request, not two).
    found = find_session(session, token)
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


def get_authenticated(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Authenticated:
    return authenticate(request, resources, uow.session, credentials)


AuthenticatedDep = Annotated[Authenticated, Depends(get_authenticated)]


async def get_current_user(authenticated: AuthenticatedDep) -> User:
    return authenticated.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_throttle(request: Request, resources: ResourcesDep) -> Throttle:
    """The rate limits of the calling address on the account endpoints."""
    address = request.client.host if request.client else "unknown"
    return Throttle(resources.limiter, resources.settings, address)


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]


T = TypeVar("T")


@dataclass
class Reader:
    """A request's whole database work in one thread-pool hop: its unit of work, the caller's
    session check (`authenticate`, as `CurrentUser` does), the read, and the commit.

    `CurrentUser` + `UowDep` + a sync endpoint cost three hops (authentication, endpoint,
    commit); the reads that clients poll take this one instead. The hop runs to its end even
    if the client goes away, so the connection is always given back.
    """

    request: Request
    resources: Resources
    credentials: HTTPAuthorizationCredentials | None

    async def run(self, read: Callable[[UnitOfWork, User], T]) -> T:
        return await run_in_threadpool(self._run, read)

    def _run(self, read: Callable[[UnitOfWork, User], T]) -> T:
        with transaction(self.resources.sessions, self.resources.broker) as uow:
            user = authenticate(self.request, self.resources, uow.session, self.credentials).user
            return read(uow, user)


async def get_reader(
    request: Request,
    resources: ResourcesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Reader:
    _token(request, credentials)  # no token: 401 at once, before the parameters are checked
    return Reader(request, resources, credentials)


ReaderDep = Annotated[Reader, Depends(get_reader)]
