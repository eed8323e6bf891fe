"""Whether a posting's organisation may apply to a call: the hard filter before any relevance score.

Organisation type, TRL range, area (only when the call requires it) and the call being open.
A missing TRL is unknown, not evidence against: such a posting stays eligible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.calls.terms import CallTerms


@dataclass(frozen=True)
class Eligibility:
    ok: bool
    reasons_failed: tuple[str, ...] = ()  # one English sentence per failed condition

    def __bool__(self) -> bool:
        return self.ok


def eligibility(
    terms: CallTerms,
    *,
    organisation_type: str,
    posting_trl: int | None,
    posting_area: str | None,
    now: datetime,
) -> Eligibility:
    """Every condition of `terms` the posting fails (all of them, not just the first)."""
    failed: list[str] = []
    if terms.eligible_types and organisation_type not in terms.eligible_types:
        allowed = ", ".join(sorted(terms.eligible_types))
        failed.append(f"organisation type {organisation_type} is not eligible (the call admits {allowed})")
    if posting_trl is not None:
        if terms.trl_min is not None and posting_trl < terms.trl_min:
            failed.append(f"TRL {posting_trl} is below the call's minimum TRL {terms.trl_min}")
        if terms.trl_max is not None and posting_trl > terms.trl_max:
            failed.append(f"TRL {posting_trl} is above the call's maximum TRL {terms.trl_max}")
    if terms.area_required and terms.s3_areas and posting_area not in terms.s3_areas:
        areas = ", ".join(sorted(terms.s3_areas))
        failed.append(f"area {posting_area or 'unknown'} is not among the call's areas ({areas})")
    if terms.opens_at is not None and _utc(now) < _utc(terms.opens_at):
        failed.append(f"the call opens on {terms.opens_at:%Y-%m-%d}")
    if terms.deadline is not None and _utc(now) >= _utc(terms.deadline):
        failed.append(f"the call closed on {terms.deadline:%Y-%m-%d}")
    return Eligibility(not failed, tuple(failed))


def is_open(terms: CallTerms, now: datetime) -> bool:
    """opens_at <= now < deadline (a missing date does not limit)."""
    opened = terms.opens_at is None or _utc(terms.opens_at) <= _utc(now)
    return opened and (terms.deadline is None or _utc(now) < _utc(terms.deadline))


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes that are UTC: compare them with aware ones as such.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
