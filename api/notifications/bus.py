"""The live channel: notifications published on Redis pub/sub, one channel per user."""

from __future__ import annotations

import json
from typing import Any

import redis

CHANNEL_PREFIX = "clustermatch:notifications:"


def channel_for(user_id: int) -> str:
    return f"{CHANNEL_PREFIX}{user_id}"


def publish(client: redis.Redis, *, user_id: int, event: dict[str, Any]) -> None:
    client.publish(channel_for(user_id), json.dumps(event))
