"""The audit log as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from api.models import AuditEvent

COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_email",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "ip",
    "details",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def audit_csv(events: Iterable[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for event in events:
        writer.writerow(
            [
                neutralise(value)
                for value in (
                    event.id,
                    event.at.isoformat(),
                    event.actor_id,
                    event.actor_email,
                    event.actor_role,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.ip,
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                )
            ]
        )
    return out.getvalue()
