"""`clustermatch eval` and `clustermatch calibrate`: the real matcher over a labelled data set.

The data set is loaded into a throwaway SQLite database; its postings go through the same
steps as in production (representation, embedding, the replica, ranking, the matcher service
writing suggestions), so what is measured is what members get. Two baselines are computed in
the same run: plain cosine of the configured model on the raw text, and plain BM25.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.core.migrate import upgrade
from api.evaluation.bm25 import BM25, bm25_tokens
from api.evaluation.call_set import CallSet
from api.evaluation.dataset import EvalPosting, EvalSet
from api.evaluation.metrics import cross_lingual_recall, delivery_metrics, ranking_metrics
from api.matching.ranking import Candidate, rank
from api.matching.replica import IndexReplica
from api.matching.service import MatchPolicy, match_posting
from api.models import Organisation, Posting, Suggestion
from api.pipeline.service import store_embedding, task_for
from api.suggestions.service import OPEN_STATUSES
from embeddings.encoder import Encoder, MultilingualEncoder
from embeddings.representation import index_model_id, second_model_id
from embeddings.scoring import Calibration
from embeddings.text import posting_text

Rankings = dict[str, list[str]]


@dataclass
class LoadedSet:
    """The data set inside a throwaway database and a fresh replica."""

    eval_set: EvalSet
    sessions: sessionmaker[Session]
    replica: IndexReplica
    db_id: dict[str, int]  # data set id -> posting id
    set_id: dict[int, str]  # posting id -> data set id

    def ranking_of(self, calibration: Calibration, candidates: int) -> Callable[[int], list[Candidate]]:
        cache: dict[int, list[Candidate]] = {}

        def ranking(posting_id: int) -> list[Candidate]:
            if posting_id not in cache:
                probe = self.replica.probe(posting_id)
                cache[posting_id] = rank(self.replica, probe, calibration, candidates=candidates)
            return cache[posting_id]

        return ranking


@contextmanager
def loaded(
    eval_set: EvalSet,
    encoder: Encoder,
    second: MultilingualEncoder | None = None,
    *,
    sync_margin: float = 120,
) -> Iterator[LoadedSet]:
    with tempfile.TemporaryDirectory(prefix="clustermatch-eval-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'eval.db'}"
        upgrade(url)
        sessions = sessions_for(url)
        model = index_model_id(encoder.model_name)
        multi_model = second_model_id(second.model_name) if second else ""
        db_id = _insert(sessions, eval_set)
        _embed(sessions, encoder, model, list(db_id.values()), second)
        replica = IndexReplica(
            model=model,
            dim=encoder.dim,
            margin_seconds=sync_margin,
            multi_model=multi_model,
            multi_dim=second.dim if second else 0,
        )
        with sessions() as session:
            replica.sync(session)
        try:
            yield LoadedSet(eval_set, sessions, replica, db_id, {v: k for k, v in db_id.items()})
        finally:
            sessions.kw["bind"].dispose()


def _insert(sessions: sessionmaker[Session], eval_set: EvalSet) -> dict[str, int]:
    db_id: dict[str, int] = {}
    with unit_of_work(sessions) as session:
        organisations: dict[str, Organisation] = {}
        for item in eval_set.postings:
            if item.org_name not in organisations:
                organisations[item.org_name] = Organisation(
                    name=item.org_name, type=item.org_type, clusters=[item.s3_area]
                )
                session.add(organisations[item.org_name])
            posting = Posting(
                kind=item.kind,
                organisation=organisations[item.org_name],
                title=item.title,
                description=item.description,
                keywords=list(item.keywords),
                s3_area=item.s3_area,
                trl=item.trl,
                language=item.lang,
            )
            session.add(posting)
            session.flush()
            db_id[item.id] = posting.id
    return db_id


def _embed(
    sessions: sessionmaker[Session],
    encoder: Encoder,
    model: str,
    posting_ids: list[int],
    second: MultilingualEncoder | None,
) -> None:
    with sessions() as session:
        tasks = [
            task_for(p, p.revision)
            for p in session.scalars(select(Posting).where(Posting.id.in_(posting_ids)))
        ]
    texts = [text for task in tasks for text in task.representation.texts]
    encoded = _encode_with_progress(encoder, texts, desc="embedding")
    multi = second.encode([task.representation.raw for task in tasks]) if second else None
    multi_model = second_model_id(second.model_name) if second else ""
    with unit_of_work(sessions) as session:
        start = 0
        for n, task in enumerate(tasks):
            count = len(task.representation.texts)
            store_embedding(
                session,
                jobs=JobBuffer(),
                task=task,
                encoded=encoded[start : start + count],
                model=model,
                multi_vector=None if multi is None else multi[n],
                multi_model=multi_model,
            )
            start += count


def _encode_with_progress(encoder: Encoder, texts: list[str], *, desc: str, batch: int = 64) -> np.ndarray:
    parts = [
        encoder.encode(texts[i : i + batch])
        for i in tqdm(range(0, len(texts), batch), desc=desc, unit="batch")
    ]
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)


def matcher_rankings(data: LoadedSet, policy: MatchPolicy) -> tuple[Rankings, Rankings]:
    """need -> offers and offer -> needs, as the matcher ranks them."""
    ranking_of = data.ranking_of(policy.calibration, policy.candidates)
    by_kind: dict[str, Rankings] = {"need": {}, "offer": {}}
    for item in data.eval_set.postings:
        ranked = ranking_of(data.db_id[item.id])
        by_kind[item.kind][item.id] = [data.set_id[c.posting_id] for c in ranked]
    return by_kind["need"], by_kind["offer"]


def delivered_pairs(data: LoadedSet, policy: MatchPolicy) -> list[tuple[str, str]]:
    """Run the matcher service on every posting, in the data set's order; read what it suggested."""
    for item in tqdm(data.eval_set.postings, desc="matching", unit="posting"):
        with unit_of_work(data.sessions) as session:
            match_posting(
                session,
                jobs=JobBuffer(),
                replica=data.replica,
                policy=policy,
                posting_id=data.db_id[item.id],
                revision=1,
            )
    with data.sessions() as session:
        # Whether a facilitator reviews it first or it goes out directly, the matcher made it.
        made = session.scalars(select(Suggestion).where(Suggestion.status.in_(OPEN_STATUSES)))
        return [(data.set_id[s.need_id], data.set_id[s.offer_id]) for s in made]


def dense_rankings(eval_set: EvalSet, encoder: Encoder) -> tuple[Rankings, Rankings]:
    """Baseline: cosine of the configured model on each posting's raw text."""
    vectors = _encode_with_progress(encoder, [_raw_text(p) for p in eval_set.postings], desc="dense baseline")
    index = {p.id: row for p, row in zip(eval_set.postings, vectors, strict=True)}
    return _rank_all(eval_set, lambda query, items: [float(index[query.id] @ index[i.id]) for i in items])


def bm25_rankings(eval_set: EvalSet) -> tuple[Rankings, Rankings]:
    """Baseline: BM25 on the raw words, one index per kind."""
    engines = {
        kind: BM25([bm25_tokens(_raw_text(p)) for p in items])
        for kind, items in (("need", eval_set.needs), ("offer", eval_set.offers))
    }
    return _rank_all(
        eval_set,
        lambda query, items: engines[items[0].kind].scores(bm25_tokens(_raw_text(query))).tolist(),
    )


def _rank_all(
    eval_set: EvalSet, scorer: Callable[[EvalPosting, tuple[EvalPosting, ...]], list[float]]
) -> tuple[Rankings, Rankings]:
    result: list[Rankings] = []
    for queries, items in ((eval_set.needs, eval_set.offers), (eval_set.offers, eval_set.needs)):
        rankings: Rankings = {}
        for query in queries:
            scores = scorer(query, items)
            order = sorted(range(len(items)), key=lambda n: (-scores[n], items[n].id))
            rankings[query.id] = [items[n].id for n in order if items[n].org_name != query.org_name]
        result.append(rankings)
    return result[0], result[1]


def _raw_text(p: EvalPosting) -> str:
    return posting_text(p.title, p.description, list(p.keywords))


def system_metrics(eval_set: EvalSet, need_rankings: Rankings, offer_rankings: Rankings) -> dict[str, Any]:
    by_need: dict[str, dict[str, int]] = {n.id: {} for n in eval_set.needs}
    by_offer: dict[str, dict[str, int]] = {o.id: {} for o in eval_set.offers}
    for (need, offer), grade in eval_set.grades.items():
        by_need[need][offer] = grade
        by_offer[offer][need] = grade
    lang = {p.id: p.lang for p in eval_set.postings}
    cross = [(n, o) for (n, o), g in eval_set.grades.items() if g == 2 and lang[n] != lang[o]]
    return {
        "need_to_offer": _strip(ranking_metrics(need_rankings, by_need)),
        "offer_to_need": _strip(ranking_metrics(offer_rankings, by_offer)),
        "cross_lingual_recall@10": cross_lingual_recall(need_rankings, cross),
    }


def _strip(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "queries"}


def evaluate(
    eval_set: EvalSet,
    encoder: Encoder,
    policy: MatchPolicy,
    second: MultilingualEncoder | None = None,
    *,
    calls: CallSet | None = None,
) -> dict[str, Any]:
    """The matcher and both baselines; with `calls`, the call section too (on the same vectors)."""
    with loaded(eval_set, encoder, second) as data:
        clustermatch = system_metrics(eval_set, *matcher_rankings(data, policy))
        # Before the matcher writes suggestions: the consortia start from what it would suggest.
        call_section = _call_section(data, calls, encoder, second, policy)
        delivered = delivered_pairs(data, policy)
    clustermatch["delivery"] = delivery_metrics(
        delivered, eval_set.grades, [n.id for n in eval_set.needs], policy.calibration.threshold
    )
    return {
        "dataset": eval_set.name,
        "systems": {
            "clustermatch": clustermatch,
            "dense": system_metrics(eval_set, *dense_rankings(eval_set, encoder)),
            "bm25": system_metrics(eval_set, *bm25_rankings(eval_set)),
        },
        "calls": call_section,
    }


def _call_section(
    data: LoadedSet,
    calls: CallSet | None,
    encoder: Encoder,
    second: MultilingualEncoder | None,
    policy: MatchPolicy,
) -> dict[str, Any]:
    if calls is None or not calls.calls:
        return {"skipped": "no funding calls for this data set (give --calls FILE)"}
    from api.calls.relevance import default_call_calibration
    from api.evaluation.call_eval import evaluate_calls

    started = time.perf_counter()
    section = evaluate_calls(data, calls, encoder, second, policy, default_call_calibration())
    return {**section, "seconds": round(time.perf_counter() - started, 1)}
