"""HTTP endpoints for notifications: list, mark read, and the live server-sent-event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from api.deps import CurrentUser, ResourcesDep, UowDep
from api.notifications import service
from api.notifications.bus import channel_for

router = APIRouter(prefix="/notifications", tags=["notifications"])

KEEPALIVE_SECONDS = 15


@router.get("")
def list_notifications(
    user: CurrentUser,
    uow: UowDep,
    unread: bool = False,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    notifications = service.list_notifications(
        uow.session, user=user, unread_only=unread, after_id=after_id, limit=limit
    )
    return [service.to_event(n) for n in notifications]


@router.post("/{notification_id}/read")
def mark_read(notification_id: int, user: CurrentUser, uow: UowDep) -> dict[str, Any]:
    return service.to_event(service.mark_read(uow.session, user=user, notification_id=notification_id))


@router.get("/stream")
async def stream(
    request: Request,
    user: CurrentUser,
    resources: ResourcesDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Live notifications as server-sent events (event id = notification id).

    Subscribes first, then replays what was stored after Last-Event-ID, so nothing written
    between the two is lost; repeats are dropped by id.
    """
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    user_id = user.id

    async def events() -> AsyncIterator[dict[str, Any]]:
        pubsub = resources.aredis.pubsub()
        await pubsub.subscribe(channel_for(user_id))
        try:
            seen = 0
            if after is not None:
                backlog = await asyncio.to_thread(_backlog, resources, user, after)
                for event in backlog:
                    seen = max(seen, event["id"])
                    yield _sse(event)
            while not await request.is_disconnected():
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
