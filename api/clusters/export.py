"""The cluster dashboard's tables as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from api.clusters.dashboard import ClusterDashboard

TABLES = ("postings", "suggestions", "unmet_needs", "cross_cluster")
# A cell starting with one of these is read as a formula by spreadsheets (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

POSTING_COLUMNS = [
    "id",
    "kind",
    "title",
    "organisation",
    "s3_area",
    "trl",
    "status",
    "pipeline_state",
    "created_at",
]
UNMET_COLUMNS = ["id", "title", "organisation", "s3_area", "created_at"]
SUGGESTION_COLUMNS = [
    "id",
    "score",
    "status",
    "need_id",
    "need",
    "need_area",
    "offer_id",
    "offer",
    "offer_area",
    "created_at",
]


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would evaluate gets a leading quote; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _rows(board: ClusterDashboard, table: str) -> Iterator[list[Any]]:
    if table == "postings":
        yield POSTING_COLUMNS
        for p in board.postings:
            yield [
                p.id,
                p.kind,
                p.title,
                p.organisation.name,
                p.s3_area,
                p.trl,
                p.status,
                p.pipeline_state,
                p.created_at.isoformat(),
            ]
    elif table == "unmet_needs":
        yield UNMET_COLUMNS
        for items in board.unmet_needs.values():
            for p in items:
                yield [p.id, p.title, p.organisation.name, p.s3_area, p.created_at.isoformat()]
    else:
        yield SUGGESTION_COLUMNS
        for s in board.suggestions if table == "suggestions" else board.cross_cluster:
            yield [
                s.id,
                s.score,
                s.status,
                s.need_id,
                s.need.title,
                s.need.s3_area,
                s.offer_id,
                s.offer.title,
                s.offer.s3_area,
                s.created_at.isoformat(),
            ]


def csv_text(rows: Iterable[list[Any]]) -> str:
    """UTF-8 CSV with a BOM (so spreadsheets read the accents), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return "\ufeff" + out.getvalue()


def dashboard_csv(board: ClusterDashboard, table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return csv_text(_rows(board, table))
