"""Response bodies of the audit endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_email: str | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
    ip: str | None

    model_config = {"from_attributes": True}


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    total: int
    limit: int
    offset: int
