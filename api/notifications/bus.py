"""The live channel: notifications published on Redis pub/sub, one channel per user."""

from __future__ import annotations

import json
from typing import Any

import redis
import redis.asyncio

CHANNEL_PREFIX = "clustermatch:notifications:"


def channel_for(client: redis.Redis | redis.asyncio.Redis, user_id: int) -> str:
    # Pub/sub ignores the database number: name it in the channel, so two installations (or
    # test runs) sharing one Redis server on different databases never hear each other.
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return f"{CHANNEL_PREFIX}{db}:{user_id}"


def publish(client: redis.Redis, *, user_id: int, event: dict[str, Any]) -> None:
    client.publish(channel_for(client, user_id), json.dumps(event))
