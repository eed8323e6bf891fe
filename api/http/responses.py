"""JSON answers serialized once, by pydantic, in the endpoint's own thread.

An endpoint that returns its models makes FastAPI validate them again against the response
model (a second pass over every field, in one more thread-pool hop for a sync endpoint)
before serializing them. The read paths that many clients poll build their models themselves,
so they return the bytes instead; `response_model` stays on the route for the schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import TypeAdapter
from pydantic_core import to_json

JSON = "application/json"


def json_response(value: Any, adapter: TypeAdapter[Any] | None = None) -> Response:
    """`value` as FastAPI would send it: compact JSON, UTF-8, datetimes in ISO 8601.

    With `adapter`, through that type's serializer (pydantic models); without, `value` must be
    plain JSON data (dicts, lists, strings, numbers, None)."""
    body = adapter.dump_json(value) if adapter is not None else to_json(value)
    return Response(body, media_type=JSON)
