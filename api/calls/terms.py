"""The terms of a funding call: programme, who may apply, maturity, areas, dates and the consortium rule.

Plain data, no I/O: the call model stores these (the rule as JSON), eligibility and the group
builder read them. `validate_*` return sentences a member can act on, for 4xx answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from api.models.enums import OrganisationType, S3Area


class Programme(StrEnum):
    step = "step"  # Strategic Technologies for Europe Platform (reprogrammed FESR 2021-27)
    fesr_er = "fesr_er"  # the regional FESR 2021-27 programme of Emilia-Romagna
    fse_plus = "fse_plus"  # the regional FSE+ 2021-27 programme (skills, training)
    horizon_europe = "horizon_europe"
    national = "national"
    other = "other"


RESEARCH_TYPES = frozenset(
    {OrganisationType.research_lab, OrganisationType.university_dept, OrganisationType.tech_centre}
)
COMPANY_TYPES = frozenset({OrganisationType.company, OrganisationType.startup})
ORGANISATION_TYPES = frozenset(OrganisationType)
TRL_RANGE = range(1, 10)

MAX_CONSORTIUM = 5  # the group builder proposes at most this many organisations
_RULE_FLOORS = {
    "min_partners": 1,
    "max_partners": 1,
    "min_companies": 0,
    "min_research": 0,
    "min_countries": 1,
}


def is_research(organisation_type: str) -> bool:
    return organisation_type in RESEARCH_TYPES


def is_company(organisation_type: str) -> bool:
    return organisation_type in COMPANY_TYPES


@dataclass(frozen=True)
class ConsortiumRule:
    """Who must apply together: partner counts, companies, research organisations, countries."""

    min_partners: int = 1
    max_partners: int = 5
    min_companies: int = 0
    min_research: int = 0  # research_lab, university_dept or tech_centre
    min_countries: int = 1

    def problems(self) -> list[str]:
        """What makes this rule impossible or malformed (empty: it is valid)."""
        problems = []
        for name, least in _RULE_FLOORS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"{name} must be an integer, got {value!r}")
            elif value < least:
                problems.append(f"{name} must be at least {least}, got {value}")
        if problems:
            return problems
        if self.min_partners > self.max_partners:
            problems.append(
                f"min_partners ({self.min_partners}) is greater than max_partners ({self.max_partners})"
            )
        if self.min_companies + self.min_research > self.max_partners:
            problems.append(
                f"min_companies + min_research ({self.min_companies + self.min_research}) "
                f"exceeds max_partners ({self.max_partners})"
            )
        if self.min_countries > self.max_partners:
            problems.append(
                f"min_countries ({self.min_countries}) exceeds max_partners ({self.max_partners}): "
                "each country needs a partner"
            )
        return problems

    @property
    def least_members(self) -> int:
        """The smallest group that can satisfy the rule."""
        return max(self.min_partners, self.min_companies + self.min_research, self.min_countries)

    def to_dict(self) -> dict[str, int]:
        return {
            "min_partners": self.min_partners,
            "max_partners": self.max_partners,
            "min_companies": self.min_companies,
            "min_research": self.min_research,
            "min_countries": self.min_countries,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ConsortiumRule:
        """A rule from its JSON form; missing keys take the defaults; raises ValueError on a bad rule."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls().to_dict()))
        if unknown:
            raise ValueError(f"unknown consortium rule field(s): {', '.join(unknown)}")
        rule = cls(**data)
        problems = rule.problems()
        if problems:
            raise ValueError("invalid consortium rule: " + "; ".join(problems))
        return rule


@dataclass(frozen=True)
class CallTerms:
    """What eligibility and the group builder read of a call."""

    eligible_types: frozenset[str] = frozenset()  # empty: every organisation type
    trl_min: int | None = None
    trl_max: int | None = None
    s3_areas: frozenset[str] = frozenset()  # the areas the call addresses (empty: any)
    area_required: bool = False  # a posting must be in one of s3_areas to be eligible
    rule: ConsortiumRule = field(default_factory=ConsortiumRule)
    opens_at: datetime | None = None
    deadline: datetime | None = None

    def problems(self) -> list[str]:
        """What is wrong with these terms, one sentence each (empty: they are valid)."""
        problems = []
        unknown_types = sorted(set(self.eligible_types) - ORGANISATION_TYPES)
        if unknown_types:
            problems.append(
                f"unknown organisation type(s) {', '.join(unknown_types)}; "
                f"use {', '.join(sorted(ORGANISATION_TYPES))}"
            )
        unknown_areas = sorted(set(self.s3_areas) - set(S3Area))
        if unknown_areas:
            problems.append(f"unknown S3 area(s) {', '.join(unknown_areas)}; use {', '.join(S3Area)}")
        for name in ("trl_min", "trl_max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value not in TRL_RANGE):
                problems.append(f"{name} must be an integer from 1 to 9, got {value!r}")
        if isinstance(self.trl_min, int) and isinstance(self.trl_max, int) and self.trl_min > self.trl_max:
            problems.append(f"trl_min ({self.trl_min}) is greater than trl_max ({self.trl_max})")
        if self.area_required and not self.s3_areas:
            problems.append("area_required is set but the call lists no S3 area")
        if self.opens_at and self.deadline and self.opens_at >= self.deadline:
            problems.append("the call must open before its deadline")
        problems += self.rule.problems()
        if self.eligible_types and not problems:
            problems += _types_for_rule(self.eligible_types, self.rule)
        return problems

    def validate(self) -> CallTerms:
        """These terms, or ValueError with every problem in one message."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _types_for_rule(eligible_types: frozenset[str], rule: ConsortiumRule) -> list[str]:
    problems = []
    if rule.min_companies and not eligible_types & COMPANY_TYPES:
        problems.append("the rule asks for companies but no company type is eligible")
    if rule.min_research and not eligible_types & RESEARCH_TYPES:
        problems.append("the rule asks for research organisations but no research type is eligible")
    return problems
