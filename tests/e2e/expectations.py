"""What the database should hold after a run: the pairs the matcher's own delivery rule picks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from api.matching.ranking import Candidate, deliverable, rank
from api.matching.replica import IndexReplica
from api.matching.service import MatchPolicy
from api.models import Embedding, Notification, Suggestion
from embeddings.encoder import MultilingualEncoder
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


def pairs_found_and_expected(
    database_url: str, ids: set[int], policy: MatchPolicy
) -> tuple[list[tuple[int, int, float]], set[tuple[int, int]]]:
    """(suggestions found among `ids` with their scores, pairs the delivery rule picks once all are indexed).

    The later posting of a pair sees the other and a subset of the final competitors, so it
    finds nearly every pair the rule picks on the final index; not all, because the lexical
    weights (IDF) move as postings arrive. Earlier postings may also have been suggested
    partners that later arrivals outranked, so `found` can hold more.
    """
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    with sessions() as session:
        model, multi_model = session.execute(
            select(Embedding.model, Embedding.multi_model).where(Embedding.posting_id.in_(ids)).limit(1)
        ).one()
        found = [
            (s.need_id, s.offer_id, s.score)
            for s in session.scalars(
                select(Suggestion).where(Suggestion.need_id.in_(ids), Suggestion.offer_id.in_(ids))
            )
        ]
        replica = IndexReplica(
            model=model,
            dim=384,
            margin_seconds=60,
            multi_model=multi_model,
            multi_dim=MultilingualEncoder.dim,
        )
        replica.sync(session)
    engine.dispose()

    def ranking_of(posting_id: int) -> list[Candidate]:
        return rank(replica, replica.probe(posting_id), policy.calibration, candidates=policy.candidates)

    expected = set()
    for posting_id in ids:
        for chosen in deliverable(
            posting_id, replica.facts[posting_id].kind, ranking_of(posting_id), policy.calibration, ranking_of
        ):
            pair = (posting_id, chosen.posting_id)
            expected.add(pair if replica.facts[posting_id].kind == "need" else pair[::-1])
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


# Share of the final-index pairs a concurrent run must have suggested (the IDF drift above).
MIN_FINAL_RECALL = 0.8


def check_suggestions(
    found: list[tuple[int, int, float]], expected: set[tuple[int, int]], threshold: float
) -> None:
    pairs = [(need, offer) for need, offer, _ in found]
    assert len(pairs) == len(set(pairs)), "a pair was suggested twice"
    assert all(score >= threshold for _, _, score in found)
    recall = len(expected & set(pairs)) / len(expected)
    assert recall >= MIN_FINAL_RECALL, (recall, expected - set(pairs))
