"""HTTP endpoints for notifications: list, mark read, and the live server-sent-event stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from api.auth.sessions import session_is_live
from api.core.uow import UnitOfWork
from api.http.deps import AuthenticatedDep, CurrentUser, ReaderDep, ResourcesDep, UowDep
from api.http.fields import MAX_DB_INT, AfterIdQuery, DbId
from api.http.responses import json_response
from api.models import User
from api.notifications import service
from api.notifications.bus import channel_for

router = APIRouter(prefix="/notifications", tags=["notifications"])

KEEPALIVE_SECONDS = 15
SESSION_RECHECK_SECONDS = 30


@router.get("", response_model=list[dict[str, Any]])
async def list_notifications(
    reader: ReaderDep,
    unread: bool = False,
    after_id: AfterIdQuery = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    def read(uow: UnitOfWork, user: User) -> Response:
        notifications = service.list_notifications(
            uow.session, user=user, unread_only=unread, after_id=after_id, limit=limit
        )
        # Plain JSON data (to_event): serialized here, not checked again by FastAPI.
        return json_response([service.to_event(n) for n in notifications])

    return await reader.run(read)


@router.post("/{notification_id}/read")
def mark_read(notification_id: DbId, user: CurrentUser, uow: UowDep) -> dict[str, Any]:
    return service.to_event(service.mark_read(uow.session, user=user, notification_id=notification_id))


@router.get("/stream")
async def stream(
    request: Request,
    auth: AuthenticatedDep,
    resources: ResourcesDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Live notifications as server-sent events (event id = notification id).

    Subscribes first, then replays what was stored after Last-Event-ID, so nothing written
    between the two is lost; repeats are dropped by id.
    """
    # Anything but an id the database can hold (ASCII digits, at most 2^31-1) replays nothing.
    valid = last_event_id and last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) <= 10
    after = int(last_event_id) if valid and int(last_event_id) <= MAX_DB_INT else None
    user, session_id = auth.user, auth.session.id
    user_id = user.id

    async def events() -> AsyncIterator[dict[str, Any]]:
        pubsub = resources.aredis.pubsub()
        await pubsub.subscribe(channel_for(resources.aredis, user_id))
        try:
            seen = 0
            if after is not None:
                backlog = await asyncio.to_thread(_backlog, resources, user, after)
                for event in backlog:
                    seen = max(seen, event["id"])
                    yield _sse(event)
            checked = time.monotonic()
            while not await request.is_disconnected():
                # A stream outlives its request: end it once logout or disabling ends the session.
                if time.monotonic() - checked > SESSION_RECHECK_SECONDS:
                    if not await asyncio.to_thread(session_is_live, resources.sessions, session_id):
                        break
                    checked = time.monotonic()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                event = json.loads(message["data"])
                if event["id"] > seen:
                    seen = event["id"]
                    yield _sse(event)
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    return EventSourceResponse(events(), ping=KEEPALIVE_SECONDS)


def _backlog(resources: ResourcesDep, user: CurrentUser, after: int) -> list[dict[str, Any]]:
    with resources.sessions() as session:
        return [
            service.to_event(n)
            for n in service.list_notifications(session, user=user, after_id=after, limit=200)
        ]


def _sse(event: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(event["id"]), "event": "notification", "data": json.dumps(event)}
