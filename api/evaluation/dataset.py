"""Load a labelled matchmaking evaluation set (format: /work/shared/eval/FORMAT.md).

The file is one JSON object with "name", "postings" and "qrels". Every problem found while loading
is reported as a `ValueError` whose message names the file and the offending posting or qrel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("need", "offer")
GRADES = (1, 2)
TRL_RANGE = range(1, 10)
_POSTING_TEXT_FIELDS = ("id", "kind", "org_name", "org_type", "lang", "s3_area", "title", "description")
_QREL_FIELDS = ("need", "offer", "grade")


@dataclass(frozen=True)
class EvalPosting:
    id: str
    kind: str
    org_name: str
    org_type: str
    lang: str
    s3_area: str
    title: str
    description: str
    keywords: tuple[str, ...]
    trl: int | None  # "trl_min" for needs, "trl" for offers


@dataclass(frozen=True)
class EvalSet:
    name: str
    postings: tuple[EvalPosting, ...]
    grades: dict[tuple[str, str], int]  # (need_id, offer_id) -> 1 | 2; unlisted pairs are grade 0

    @property
    def needs(self) -> tuple[EvalPosting, ...]:
        return tuple(p for p in self.postings if p.kind == "need")

    @property
    def offers(self) -> tuple[EvalPosting, ...]:
        return tuple(p for p in self.postings if p.kind == "offer")

    def grade(self, need_id: str, offer_id: str) -> int:
        return self.grades.get((need_id, offer_id), 0)


def load_eval_set(path: str | Path) -> EvalSet:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a JSON object, got {type(data).__name__}")
    for key in ("name", "postings", "qrels"):
        if key not in data:
            raise ValueError(f"{path}: missing top-level field {key!r}")
    if not isinstance(data["postings"], list) or not isinstance(data["qrels"], list):
        raise ValueError(f"{path}: 'postings' and 'qrels' must be lists")

    postings: list[EvalPosting] = []
    by_id: dict[str, EvalPosting] = {}
    for index, raw in enumerate(data["postings"]):
        posting = _parse_posting(path, index, raw)
        if posting.id in by_id:
            raise ValueError(f"{path}: duplicate posting id {posting.id!r}")
        by_id[posting.id] = posting
        postings.append(posting)

    grades: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(data["qrels"]):
        where = f"{path}: qrel #{index}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: must be an object")
        for key in _QREL_FIELDS:
            if key not in raw:
                raise ValueError(f"{where}: missing field {key!r}")
        need_id, offer_id, grade = raw["need"], raw["offer"], raw["grade"]
        where = f"{path}: qrel #{index} ({need_id!r}, {offer_id!r})"
        for role, posting_id in (("need", need_id), ("offer", offer_id)):
            if posting_id not in by_id:
                raise ValueError(f"{where}: refers to unknown posting {posting_id!r}")
            if by_id[posting_id].kind != role:
                raise ValueError(f"{where}: {posting_id!r} is a {by_id[posting_id].kind}, expected a {role}")
        if isinstance(grade, bool) or grade not in GRADES:
            raise ValueError(f"{where}: grade must be 1 or 2, got {grade!r}")
        if (need_id, offer_id) in grades:
            raise ValueError(f"{where}: duplicate qrel for this pair")
        grades[(need_id, offer_id)] = grade

    return EvalSet(name=str(data["name"]), postings=tuple(postings), grades=grades)


def _parse_posting(path: Path, index: int, raw: Any) -> EvalPosting:
    where = f"{path}: posting #{index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    if "id" in raw:
        where = f"{path}: posting {raw['id']!r}"
    for key in (*_POSTING_TEXT_FIELDS, "keywords"):
        if key not in raw:
            raise ValueError(f"{where}: missing field {key!r}")
    for key in _POSTING_TEXT_FIELDS:
        if not isinstance(raw[key], str):
            raise ValueError(f"{where}: field {key!r} must be a string")
    kind = raw["kind"]
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {kind!r} (expected 'need' or 'offer')")
    keywords = raw["keywords"]
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ValueError(f"{where}: field 'keywords' must be a list of strings")
    trl_field = "trl_min" if kind == "need" else "trl"
    trl = raw.get(trl_field)
    if trl is not None and (isinstance(trl, bool) or not isinstance(trl, int) or trl not in TRL_RANGE):
        raise ValueError(f"{where}: {trl_field!r} must be an integer 1..9, got {trl!r}")
    return EvalPosting(
        id=raw["id"],
        kind=kind,
        org_name=raw["org_name"],
        org_type=raw["org_type"],
        lang=raw["lang"],
        s3_area=raw["s3_area"],
        title=raw["title"],
        description=raw["description"],
        keywords=tuple(keywords),
        trl=trl,
    )
