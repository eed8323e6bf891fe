"""What the database should hold after a run: the pairs the matcher's own scoring qualifies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, func, select

from api.matching.service import features_of
from api.models import Embedding, Notification, Posting, Suggestion
from embeddings.scoring import score_pair
from tests.helpers import register

DEMO = json.loads((Path(__file__).parents[2] / "api/demo/demo_data.json").read_text())


def register_demo_members(client) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return {
        org["key"]: register(client, org_type=org["type"], clusters=tuple(org["clusters"]))
        for org in DEMO["organisations"]
    }


def demo_bodies(members: dict[str, dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    fields = ("kind", "title", "description", "keywords", "s3_area", "trl")
    return [({k: p[k] for k in fields if k in p}, members[p["org"]]) for p in DEMO["postings"]]


def pairs_found_and_expected(database_url: str, ids: set[int], threshold: float) -> tuple[list, set]:  # type: ignore[type-arg]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        postings = list(connection.execute(select(Posting).where(Posting.id.in_(ids))))
        vectors = {
            e.posting_id: np.frombuffer(e.vector, dtype="<f4")
            for e in connection.execute(select(Embedding).where(Embedding.posting_id.in_(ids)))
        }
        found = [
            (s.need_id, s.offer_id)
            for s in connection.execute(
                select(Suggestion).where(Suggestion.need_id.in_(ids), Suggestion.offer_id.in_(ids))
            )
        ]
    engine.dispose()
    expected = set()
    for need in (p for p in postings if p.kind == "need"):
        for offer in (p for p in postings if p.kind == "offer"):
            cosine = float(vectors[need.id] @ vectors[offer.id])
            if score_pair(features_of(need), features_of(offer), cosine).score >= threshold:
                expected.add((need.id, offer.id))
    return found, expected


def new_suggestion_notifications(database_url: str) -> tuple[int, int]:
    """(notifications of new suggestions, distinct recipient/suggestion pairs among them)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = list(
            connection.execute(
                select(Notification.recipient_id, Notification.payload).where(
                    Notification.kind == "suggestion.new"
                )
            )
        )
        total = connection.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "suggestion.new")
        )
    engine.dispose()
    return total, len({(r.recipient_id, r.payload["suggestion_id"]) for r in rows})
