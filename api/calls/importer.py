"""Importing funding calls from a CSV or JSON file (`clustermatch calls import FILE`).

JSON: a list of objects shaped as the API's `POST /api/v1/calls` body. CSV: one call per row,
with the same names as columns; list columns (keywords, s3_areas, eligible_types) separated by
";", the consortium rule as its own columns (min_partners...). A row with an `external_id`
updates the call imported earlier with that id, so importing a file again is harmless.

All or nothing: every row is checked first, and a file with a bad row imports nothing and
says which row and why (a half-imported file would be the worst outcome to untangle).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.calls.schemas import CallCreate
from api.calls.service import publish_call
from api.core.errors import DomainError
from api.core.jobs import JobBuffer
from api.http.errors import validation_detail, validation_items
from api.models import User

LIST_COLUMNS = ("keywords", "s3_areas", "eligible_types")
RULE_COLUMNS = ("min_partners", "max_partners", "min_companies", "min_research", "min_countries")
MAX_BYTES = 5_000_000


class ImportFailed(Exception):
    """The file cannot be imported: `problems` lists each row's problem, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The file's calls as API bodies (before validation)."""
    if path.stat().st_size > MAX_BYTES:
        raise ImportFailed([f"{path} is larger than {MAX_BYTES:,} bytes: split it"])
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFailed([f"{path} is not valid JSON: {exc}"]) from None
        if isinstance(data, dict) and isinstance(data.get("calls"), list):
            data = data["calls"]
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ImportFailed([f'{path} must hold a list of call objects (or {{"calls": [...]}})'])
        return data
    if path.suffix.lower() == ".csv":
        return [_from_csv(row) for row in csv.DictReader(io.StringIO(text))]
    raise ImportFailed([f"{path}: give a .csv or a .json file"])


def _from_csv(row: dict[str, str | None]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    rule: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None or not value.strip():
            continue
        key, value = key.strip(), value.strip()
        if key in LIST_COLUMNS:
            body[key] = [part.strip() for part in value.split(";") if part.strip()]
        elif key in RULE_COLUMNS:
            rule[key] = value
        elif key == "area_required":
            body[key] = value.lower() in ("1", "true", "yes", "si", "sì", "x")
        else:
            body[key] = value
    if rule:
        body["consortium_rule"] = rule
    return body


def import_calls(
    session: Session, *, jobs: JobBuffer, author: User, rows: list[dict[str, Any]]
) -> ImportReport:
    """Check every row, then publish (or update) each; raises ImportFailed and writes nothing on a bad row."""
    bodies: list[CallCreate] = []
    problems: list[str] = []
    for number, row in enumerate(rows, start=1):
        try:
            bodies.append(CallCreate.model_validate(row))
        except ValidationError as exc:
            problems.append(f"call {number}: {validation_detail(validation_items(exc.errors()))}")
    if problems:
        raise ImportFailed(problems)
    report = ImportReport()
    for number, body in enumerate(bodies, start=1):
        try:
            with session.begin_nested():
                call, created = publish_call(session, jobs=jobs, author=author, data=body)
        except DomainError as exc:
            problems.append(f"call {number}: {exc.message}")
            continue
        (report.created if created else report.updated).append(call.id)
    if problems:
        jobs.clear()
        raise ImportFailed(problems)
    return report
