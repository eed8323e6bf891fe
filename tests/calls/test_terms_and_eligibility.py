"""Call terms (validation, the rule's JSON form) and the eligibility filter: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.calls.eligibility import eligibility, is_open
from api.calls.terms import CallTerms, ConsortiumRule, Programme

NOW = datetime(2027, 1, 15, 12, tzinfo=UTC)
TERMS = CallTerms(
    eligible_types=frozenset({"company", "startup", "research_lab", "university_dept"}),
    trl_min=4,
    trl_max=7,
    s3_areas=frozenset({"agrifood"}),
    area_required=True,
    opens_at=datetime(2026, 12, 1, tzinfo=UTC),
    deadline=datetime(2027, 3, 31, tzinfo=UTC),
)


def check(terms: CallTerms = TERMS, **overrides):  # type: ignore[no-untyped-def]
    posting = {"organisation_type": "company", "posting_trl": 6, "posting_area": "agrifood", "now": NOW}
    return eligibility(terms, **{**posting, **overrides})


def test_a_posting_meeting_every_term_is_eligible():
    verdict = check()
    assert verdict.ok and verdict.reasons_failed == () and bool(verdict)


def test_an_organisation_type_the_call_does_not_admit_is_not_eligible():
    verdict = check(organisation_type="training_body")
    assert not verdict.ok
    assert verdict.reasons_failed == (
        "organisation type training_body is not eligible "
        "(the call admits company, research_lab, startup, university_dept)",
    )


@pytest.mark.parametrize(
    ("trl", "reason"), [(3, "below the call's minimum TRL 4"), (8, "above the call's maximum TRL 7")]
)
def test_a_trl_outside_the_range_is_not_eligible(trl, reason):
    verdict = check(posting_trl=trl)
    assert not verdict.ok and reason in verdict.reasons_failed[0]


def test_a_missing_trl_is_unknown_not_evidence_against():
    assert check(posting_trl=None).ok


def test_the_area_counts_only_when_the_call_requires_it():
    assert not check(posting_area="construction").ok
    assert check(CallTerms(s3_areas=frozenset({"agrifood"})), posting_area="construction").ok


def test_a_call_is_open_from_its_opening_until_just_before_its_deadline():
    assert not check(now=datetime(2026, 11, 30, tzinfo=UTC)).ok
    assert check(now=TERMS.opens_at).ok
    closed = check(now=TERMS.deadline)
    assert not closed.ok and closed.reasons_failed == ("the call closed on 2027-03-31",)
    # SQLite hands back naive UTC datetimes: they compare as UTC.
    assert is_open(TERMS, datetime(2027, 1, 1)) and not is_open(TERMS, datetime(2027, 4, 1))


def test_every_failed_term_is_reported_not_just_the_first():
    verdict = check(organisation_type="tech_centre", posting_trl=9, posting_area="urban_tourism")
    assert len(verdict.reasons_failed) == 3


def test_no_eligible_types_means_every_type_may_apply():
    assert check(CallTerms(), organisation_type="training_body", posting_trl=1).ok


def test_the_rule_round_trips_through_its_json_form():
    rule = ConsortiumRule(min_partners=3, max_partners=5, min_companies=1, min_research=1, min_countries=3)
    assert ConsortiumRule.from_dict(rule.to_dict()) == rule
    assert ConsortiumRule.from_dict({}) == ConsortiumRule()
    assert ConsortiumRule.from_dict(None).least_members == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"min_partners": 4, "max_partners": 2}, "min_partners (4) is greater than max_partners (2)"),
        (
            {"min_companies": 3, "min_research": 3},
            "min_companies + min_research (6) exceeds max_partners (5)",
        ),
        ({"min_countries": 0}, "min_countries must be at least 1, got 0"),
        ({"min_partners": "two"}, "min_partners must be an integer, got 'two'"),
        ({"partners": 2}, "unknown consortium rule field(s): partners"),
    ],
)
def test_an_impossible_rule_is_refused_with_what_to_fix(data, message):
    with pytest.raises(ValueError) as error:
        ConsortiumRule.from_dict(data)
    assert message in str(error.value)


def test_terms_report_each_problem_in_a_sentence():
    terms = CallTerms(
        eligible_types=frozenset({"research_lab", "spaceship"}),
        trl_min=8,
        trl_max=5,
        s3_areas=frozenset({"moon"}),
        opens_at=NOW,
        deadline=NOW,
    )
    problems = terms.problems()
    assert any("unknown organisation type(s) spaceship" in p for p in problems)
    assert any("unknown S3 area(s) moon" in p for p in problems)
    assert "trl_min (8) is greater than trl_max (5)" in problems
    assert "the call must open before its deadline" in problems
    with pytest.raises(ValueError, match="trl_min"):
        terms.validate()


def test_a_rule_asking_for_companies_needs_an_eligible_company_type():
    terms = CallTerms(eligible_types=frozenset({"research_lab"}), rule=ConsortiumRule(min_companies=1))
    assert terms.problems() == ["the rule asks for companies but no company type is eligible"]
    assert TERMS.validate() is TERMS


def test_programmes_are_the_issue_s_list():
    assert [p.value for p in Programme] == [
        "step",
        "fesr_er",
        "fse_plus",
        "horizon_europe",
        "national",
        "other",
    ]
