"""Process resources and the FastAPI dependencies built on them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import dramatiq
import redis
import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.auth.security import user_id_from_token
from api.errors import Unauthorized
from api.models import User
from api.settings import Settings
from api.uow import UnitOfWork, transaction


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


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_uow(resources: ResourcesDep) -> Iterator[UnitOfWork]:
    """The request's transaction: committed before the response, then its jobs are sent."""
    with transaction(resources.sessions, resources.broker) as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

_bearer = HTTPBearer(auto_error=False)


def get_current_user(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    # Browsers' EventSource cannot set headers: the stream also takes ?access_token=.
    token = credentials.credentials if credentials else request.query_params.get("access_token")
    if not token:
        raise Unauthorized("Log in first: send 'Authorization: Bearer <access token>'.")
    user_id = user_id_from_token(token, secret=resources.secret_key)
    if user_id is None:
        raise Unauthorized("The access token is invalid or expired: log in again.")
    # Read in the request's own unit of work: one session per request, not two.
    user = uow.session.get(User, user_id)
    if user is None:
        raise Unauthorized("The account of this token no longer exists.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
