"""The consortium rule and the group builder: pure, deterministic, never a duplicate or ineligible member."""

from __future__ import annotations

import random
from dataclasses import replace

from api.calls.consortium import CallCandidate, GroupMember, propose_groups, rule_violations
from api.calls.terms import CallTerms, ConsortiumRule

PAIR = ConsortiumRule(min_partners=2, min_companies=1, min_research=1)
TERMS = CallTerms(rule=PAIR)


def candidate(
    org: int, kind: str, score: float, *, type_: str | None = None, covers=(), **kw
) -> CallCandidate:  # type: ignore[no-untyped-def]
    return CallCandidate(
        organisation_id=org,
        organisation_type=type_ or ("company" if kind == "need" else "research_lab"),
        country=kw.pop("country", "IT"),
        cluster=kw.pop("cluster", "agrifood"),
        posting_id=kw.pop("posting_id", org * 10),
        posting_kind=kind,
        score=score,
        covers=frozenset(covers),
        **kw,
    )


# Two companies' needs, three labs; lab 3 answers need 10, lab 4 answers need 20, lab 5 answers both.
NEED_A = candidate(1, "need", 0.9, covers={"packaging", "shelf life"})
NEED_B = candidate(2, "need", 0.7, covers={"irrigation"})
LAB_3 = candidate(3, "offer", 0.8, covers={"packaging"})
LAB_4 = candidate(4, "offer", 0.6, covers={"irrigation", "sensors"})
LAB_5 = candidate(5, "offer", 0.5, covers={"cold chain"})
FITS = {(10, 30): 0.85, (20, 40): 0.7, (10, 50): 0.6, (20, 50): 0.4}
POOL = [NEED_A, NEED_B, LAB_3, LAB_4, LAB_5]


def pair_fit(need: int, offer: int) -> float | None:
    return FITS.get((need, offer))


def only_lab_3_answers(need: int, offer: int) -> float | None:
    return 0.85 if (need, offer) == (10, 30) else None


def test_labs_answering_the_need_come_before_other_partners():
    rule = ConsortiumRule(min_partners=3, min_companies=1, min_research=1)
    first = propose_groups(CallTerms(rule=rule), POOL, pair_fit=pair_fit, introduced=set()).groups[0]
    # Lab 5 also answers need 10 and covers "cold chain": it joins before lab 4, which does not answer it.
    assert [(m.organisation_id, m.role) for m in first.members] == [
        (1, "anchor"),
        (3, "answers_need"),
        (5, "answers_need"),
    ]


def members(*orgs: tuple[int, str, str]) -> list[GroupMember]:
    return [GroupMember(o, t, c, "agrifood", o * 10, "need", "anchor", "", ()) for o, t, c in orgs]


def test_a_company_and_a_lab_satisfy_the_usual_regional_rule():
    assert rule_violations(PAIR, members((1, "company", "IT"), (2, "university_dept", "IT"))) == []


def test_each_broken_count_is_reported_in_english():
    horizon = ConsortiumRule(min_partners=3, min_companies=1, min_research=1, min_countries=3)
    found = rule_violations(horizon, members((1, "startup", "IT"), (2, "company", "IT")))
    assert found == [
        "the call needs at least 3 partners; the group has 2",
        "the call needs at least 1 research organisation; the group has 0",
        "the call needs partners from 3 countries; the group's are in 1",
    ]


def test_too_many_partners_and_a_repeated_organisation_break_the_rule():
    small = ConsortiumRule(max_partners=2)
    group = members(
        (1, "company", "IT"), (1, "company", "IT"), (2, "tech_centre", "IT"), (3, "company", "DE")
    )
    found = rule_violations(small, group)
    assert "an organisation appears more than once" in found
    assert "the call admits at most 2 partners; the group has 3" in found


def test_a_group_forms_around_a_fitting_need_with_the_lab_that_answers_it():
    proposals = propose_groups(TERMS, POOL, pair_fit=pair_fit, introduced=set())
    assert proposals.unmet_reason is None
    first = proposals.groups[0]
    assert [(m.organisation_id, m.role) for m in first.members] == [(1, "anchor"), (3, "answers_need")]
    assert "answers the anchor's need (fit 85%)" in first.members[1].why["en"]
    assert first.covers == ("packaging", "shelf life")
    assert first.members[0].covers == ("packaging", "shelf life") and first.members[1].covers == ()
    assert all(rule_violations(PAIR, g.members) == [] for g in proposals.groups)
    assert [g.members[0].organisation_id for g in proposals.groups] == [1, 2]


def test_a_pair_already_introduced_is_preferred_over_a_better_fit():
    proposals = propose_groups(TERMS, POOL, pair_fit=pair_fit, introduced={frozenset({1, 5})})
    first = proposals.groups[0]
    assert [m.organisation_id for m in first.members] == [1, 5]
    assert "already introduced" in first.members[1].why["en"]


def test_further_partners_join_until_the_rule_is_met_covering_what_the_others_do_not():
    rule = ConsortiumRule(min_partners=3, min_companies=1, min_research=1)
    proposals = propose_groups(CallTerms(rule=rule), POOL, pair_fit=only_lab_3_answers, introduced=set())
    first = proposals.groups[0]
    assert len(first.members) == 3 and rule_violations(rule, first.members) == []
    third = first.members[2]
    # Lab 4 brings two concepts nobody in the group covers; need B only one.
    assert third.organisation_id == 4 and third.role == "completes_rule"
    assert (
        "irrigation" in third.why["en"]
        and "irrigation" in third.why["it"]
        and third.covers == ("irrigation", "sensors")
    )


def test_a_rule_that_cannot_be_met_gives_no_group_and_says_why():
    horizon = CallTerms(rule=ConsortiumRule(min_partners=3, min_companies=1, min_research=1, min_countries=3))
    proposals = propose_groups(horizon, POOL, pair_fit=pair_fit, introduced=set())
    assert proposals.groups == ()
    assert proposals.unmet_reason == "the call needs partners from 3 countries; fitting members are in 1"


def test_a_rule_larger_than_a_proposal_can_be_gives_no_group():
    big = CallTerms(rule=ConsortiumRule(min_partners=4, max_partners=8))
    proposals = propose_groups(big, POOL, pair_fit=pair_fit, introduced=set(), max_size=3)
    assert proposals.groups == ()
    assert proposals.unmet_reason == "the call needs at least 4 partners; proposals have at most 3"


def test_without_a_research_organisation_there_is_no_group():
    proposals = propose_groups(TERMS, [NEED_A, NEED_B], pair_fit=pair_fit, introduced=set())
    assert proposals.groups == ()
    assert (
        proposals.unmet_reason
        == "the call needs 1 research organisation; 0 eligible research organisations fit it"
    )


def test_without_a_fitting_need_there_is_no_anchor():
    proposals = propose_groups(
        TERMS,
        [LAB_3, LAB_4, candidate(6, "offer", 0.9, type_="company")],
        pair_fit=pair_fit,
        introduced=set(),
    )
    assert proposals.groups == () and "no eligible need fits the call" in (proposals.unmet_reason or "")


def test_an_ineligible_organisation_is_never_proposed():
    ineligible_lab = replace(LAB_3, eligible=False)
    training = candidate(7, "offer", 0.99, type_="training_body", posting_id=70)
    terms = CallTerms(eligible_types=frozenset({"company", "research_lab"}), rule=PAIR)
    proposals = propose_groups(
        terms, [NEED_A, NEED_B, ineligible_lab, LAB_4, LAB_5, training],
        pair_fit=lambda n, o: 0.9, introduced=set(),
    )  # fmt: skip
    proposed = {m.organisation_id for g in proposals.groups for m in g.members}
    assert proposals.groups and 3 not in proposed and 7 not in proposed


def test_an_organisation_with_a_need_and_an_offer_is_never_in_a_group_twice():
    own_offer = candidate(1, "offer", 0.95, posting_id=11, covers={"robots"})
    pool = [*POOL, own_offer]
    everything_fits = ConsortiumRule(min_partners=5, min_companies=1, min_research=1)
    proposals = propose_groups(
        CallTerms(rule=everything_fits), pool, pair_fit=lambda n, o: 0.9, introduced=set()
    )
    assert proposals.groups
    for group in proposals.groups:
        ids = [m.organisation_id for m in group.members]
        assert len(ids) == len(set(ids)) == 5


def test_the_same_candidates_in_any_order_give_the_same_proposals():
    rule = CallTerms(rule=ConsortiumRule(min_partners=3, min_companies=1, min_research=1))
    tied = [*POOL, candidate(8, "offer", 0.6, covers={"irrigation", "sensors"})]  # ties lab 4 but for its id
    expected = propose_groups(rule, tied, pair_fit=only_lab_3_answers, introduced=set())
    shuffled = list(tied)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert propose_groups(rule, shuffled, pair_fit=only_lab_3_answers, introduced=set()) == expected
    assert expected.groups[0].members[2].organisation_id == 4  # the tie goes to the lower id


def test_at_most_max_groups_are_proposed_and_no_two_alike():
    needs = [candidate(n, "need", 0.9 - n / 100) for n in range(10, 16)]
    proposals = propose_groups(
        TERMS, [*needs, LAB_3], pair_fit=lambda n, o: 0.8, introduced=set(), max_groups=3
    )
    assert len(proposals.groups) == 3
    assert len({g.organisation_ids for g in proposals.groups}) == 3


def test_a_need_no_fitting_offer_answers_anchors_no_group():
    lonely = candidate(9, "need", 0.95, posting_id=90)
    proposals = propose_groups(TERMS, [lonely, *POOL], pair_fit=pair_fit, introduced=set())
    assert [g.members[0].organisation_id for g in proposals.groups] == [1, 2]
    alone = propose_groups(TERMS, [lonely, LAB_3, LAB_4], pair_fit=pair_fit, introduced=set())
    assert alone.groups == ()
    assert alone.unmet_reason == "no offer that fits the call answers a need that fits it"
