"""Load the funding calls of a labelled set: `calls` and `call_qrels` (see README, "Calls in a labelled set").

Calls live in the labelled set itself when it has a `calls` list, or in a companion file whose
postings are those of a labelled set (the bundled `data/calls_dev.json` is written over the
development split). Every problem is a `ValueError` naming the file and the call or qrel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.calls.terms import CallTerms, ConsortiumRule, Programme
from api.evaluation.dataset import EvalSet

BUNDLED_CALLS = Path(__file__).parent / "data" / "calls_dev.json"
CALL_GRADES = (1, 2)
_CALL_TEXT_FIELDS = ("id", "title", "text", "language", "programme")


@dataclass(frozen=True)
class EvalCall:
    id: str
    title: str
    text: str
    language: str
    programme: Programme
    keywords: tuple[str, ...]
    terms: CallTerms


@dataclass(frozen=True)
class CallSet:
    calls: tuple[EvalCall, ...]
    grades: dict[tuple[str, str], int]  # (call id, posting id) -> 1 | 2; unlisted pairs are grade 0
    source: str  # where the calls came from, for the report

    def grade(self, call_id: str, posting_id: str) -> int:
        return self.grades.get((call_id, posting_id), 0)


def calls_in(data: dict[str, Any], eval_set: EvalSet, *, source: str) -> CallSet:
    """The calls and call qrels of a parsed JSON object, checked against the set's postings."""
    where = source
    raw_calls, raw_qrels = data.get("calls"), data.get("call_qrels", [])
    if not isinstance(raw_calls, list) or not isinstance(raw_qrels, list):
        raise ValueError(f"{where}: 'calls' and 'call_qrels' must be lists")
    calls: list[EvalCall] = []
    for index, raw in enumerate(raw_calls):
        call = _parse_call(where, index, raw)
        if any(c.id == call.id for c in calls):
            raise ValueError(f"{where}: duplicate call id {call.id!r}")
        calls.append(call)
    postings = {p.id for p in eval_set.postings}
    call_ids = {c.id for c in calls}
    grades: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(raw_qrels):
        here = f"{where}: call qrel #{index}"
        if not isinstance(raw, dict) or not {"call", "posting", "grade"} <= set(raw):
            raise ValueError(f"{here}: must be an object with 'call', 'posting' and 'grade'")
        key = (raw["call"], raw["posting"])
        if key[0] not in call_ids:
            raise ValueError(f"{here}: refers to unknown call {key[0]!r}")
        if key[1] not in postings:
            raise ValueError(f"{here}: refers to unknown posting {key[1]!r}")
        grade = raw["grade"]
        if isinstance(grade, bool) or grade not in CALL_GRADES:
            raise ValueError(f"{here}: grade must be 1 or 2, got {grade!r}")
        if key in grades:
            raise ValueError(f"{here}: duplicate qrel for ({key[0]!r}, {key[1]!r})")
        grades[key] = grade
    return CallSet(tuple(calls), grades, source)


def load_call_set(path: str | Path, eval_set: EvalSet) -> CallSet:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "calls" not in data:
        raise ValueError(f"{path}: expected a JSON object with a 'calls' list")
    return calls_in(data, eval_set, source=str(path))


def calls_for(dataset: Path, eval_set: EvalSet, calls_file: Path | None = None) -> CallSet | None:
    """The calls to evaluate with `eval_set`: its own `calls`, else `calls_file`, else the bundled
    calls when they were written over this set (same name, or every graded posting exists); None when
    there are none."""
    data = json.loads(dataset.read_text(encoding="utf-8"))
    if isinstance(data, dict) and data.get("calls"):
        return calls_in(data, eval_set, source=str(dataset))
    if calls_file is not None:
        return load_call_set(calls_file, eval_set)
    bundled = json.loads(BUNDLED_CALLS.read_text(encoding="utf-8"))
    postings = {p.id for p in eval_set.postings}
    same_set = bundled.get("dataset") == eval_set.name
    if same_set or all(q["posting"] in postings for q in bundled["call_qrels"]):
        return calls_in(bundled, eval_set, source=f"bundled {BUNDLED_CALLS.name}")
    return None


def _parse_call(where: str, index: int, raw: Any) -> EvalCall:
    here = f"{where}: call #{index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{here}: must be an object")
    if "id" in raw:
        here = f"{where}: call {raw['id']!r}"
    for key in _CALL_TEXT_FIELDS:
        if not isinstance(raw.get(key), str):
            raise ValueError(f"{here}: field {key!r} must be a string")
    try:
        programme = Programme(raw["programme"])
    except ValueError:
        raise ValueError(
            f"{here}: unknown programme {raw['programme']!r} (use {', '.join(Programme)})"
        ) from None
    try:
        terms = CallTerms(
            eligible_types=frozenset(raw.get("eligible_types") or ()),
            trl_min=raw.get("trl_min"),
            trl_max=raw.get("trl_max"),
            s3_areas=frozenset(raw.get("s3_areas") or ()),
            area_required=bool(raw.get("area_required", False)),
            rule=ConsortiumRule.from_dict(raw.get("rule")),
        ).validate()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{here}: {exc}") from None
    keywords = raw.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ValueError(f"{here}: field 'keywords' must be a list of strings")
    return EvalCall(
        id=raw["id"],
        title=raw["title"],
        text=raw["text"],
        language=raw["language"],
        programme=programme,
        keywords=tuple(keywords),
        terms=terms,
    )
