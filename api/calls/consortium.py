"""Consortium rules and the group builder: which organisations could apply to a call together.

A proposal starts from an anchor, a need that fits the call (a company's, where one fits), adds
the labs whose offers answer that need (pairs already introduced first), then further partners
that cover parts of the call the first ones do not, until the call's consortium rule is met.
Pure and deterministic (ties broken by id): the caller gathers the candidates, their call
scores and concepts, and how well each offer answers each need.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from api.calls.terms import MAX_CONSORTIUM, CallTerms, ConsortiumRule, is_company, is_research

PairFit = Callable[[int, int], float | None]  # (need posting id, offer posting id) -> fit, None: no fit


class _Partner(Protocol):
    @property
    def organisation_id(self) -> int: ...
    @property
    def organisation_type(self) -> str: ...
    @property
    def country(self) -> str: ...


@dataclass(frozen=True)
class CallCandidate:
    """A posting that fits a call, with what the group builder needs of its organisation."""

    organisation_id: int
    organisation_type: str
    country: str  # ISO 3166 alpha-2, e.g. "IT"
    cluster: str  # the organisation's cluster (S3 area)
    posting_id: int
    posting_kind: str  # "need" | "offer"
    score: float  # the posting's calibrated relevance to the call
    covers: frozenset[str] = frozenset()  # call concepts the posting covers
    eligible: bool = True  # the caller's full eligibility verdict (type, TRL, area, dates)


@dataclass(frozen=True)
class GroupMember:
    organisation_id: int
    organisation_type: str
    country: str
    cluster: str
    posting_id: int
    posting_kind: str
    role: str  # "anchor" | "answers_need" | "covers_call" | "completes_rule"
    why: dict[str, str]  # one sentence in each language: {"it": ..., "en": ...}
    covers: tuple[str, ...]  # the call concepts this member brings (sorted)


@dataclass(frozen=True)
class Group:
    members: tuple[GroupMember, ...]
    score: float  # mean call score of the members
    covers: tuple[str, ...]  # every call concept the group covers (sorted)

    @property
    def organisation_ids(self) -> frozenset[int]:
        return frozenset(m.organisation_id for m in self.members)


@dataclass(frozen=True)
class Proposals:
    groups: tuple[Group, ...]
    unmet_reason: str | None = None  # why no group could be proposed (None when there are groups)


def rule_violations(rule: ConsortiumRule, members: Sequence[_Partner]) -> list[str]:
    """Every way these members break the rule, one English sentence each (empty: satisfied)."""
    violations = []
    ids = [m.organisation_id for m in members]
    if len(set(ids)) != len(ids):
        violations.append("an organisation appears more than once")
    n = len(set(ids))
    if n < rule.min_partners:
        violations.append(
            f"the call needs at least {_count(rule.min_partners, 'partner')}; the group has {n}"
        )
    if n > rule.max_partners:
        violations.append(
            f"the call admits at most {_count(rule.max_partners, 'partner')}; the group has {n}"
        )
    companies = len({m.organisation_id for m in members if is_company(m.organisation_type)})
    if companies < rule.min_companies:
        violations.append(
            f"the call needs at least {_count(rule.min_companies, 'company', 'companies')}; "
            f"the group has {companies}"
        )
    research = len({m.organisation_id for m in members if is_research(m.organisation_type)})
    if research < rule.min_research:
        violations.append(
            f"the call needs at least {_count(rule.min_research, 'research organisation')}; "
            f"the group has {research}"
        )
    countries = len({m.country for m in members})
    if countries < rule.min_countries:
        violations.append(
            f"the call needs partners from {_count(rule.min_countries, 'country', 'countries')}; "
            f"the group's are in {countries}"
        )
    return violations


def propose_groups(
    terms: CallTerms,
    candidates: Iterable[CallCandidate],
    *,
    pair_fit: PairFit,
    introduced: Collection[frozenset[int]],
    max_groups: int = 3,
    max_size: int | None = None,
) -> Proposals:
    """Up to `max_groups` groups that satisfy the call's rule, best anchors first; or why there are none."""
    rule = terms.rule
    cap = min(rule.max_partners, max_size or MAX_CONSORTIUM, MAX_CONSORTIUM)
    pool = sorted(
        (c for c in candidates if _admissible(terms, c)),
        key=lambda c: (-c.score, c.posting_id),
    )
    reason = _infeasible(rule, cap, pool)
    if reason:
        return Proposals((), reason)
    anchors = [c for c in pool if c.posting_kind == "need"]
    if not anchors:
        return Proposals((), "no eligible need fits the call, so there is no company to build a group around")
    # A group is a need and the offers that answer it: a need no fitting offer answers anchors
    # nothing (partners who only fit the call would not share a project). A company's need first:
    # the call funds its project.
    offers = [c for c in pool if c.posting_kind == "offer"]
    anchors = [
        need
        for need in anchors
        if any(
            o.organisation_id != need.organisation_id and pair_fit(need.posting_id, o.posting_id) is not None
            for o in offers
        )
    ]
    if not anchors:
        return Proposals((), "no offer that fits the call answers a need that fits it")
    anchors.sort(key=lambda c: (not is_company(c.organisation_type), -c.score, c.posting_id))
    groups: list[Group] = []
    seen: set[frozenset[int]] = set()
    failures: list[str] = []
    for anchor in anchors:
        if len(groups) == max_groups:
            break
        group, failure = _group_around(anchor, pool, rule, cap, pair_fit, introduced)
        if group is None:
            failures.append(failure or "")
        elif group.organisation_ids not in seen:
            seen.add(group.organisation_ids)
            groups.append(group)
    if groups:
        return Proposals(tuple(groups))
    return Proposals((), failures[0] if failures else "no group satisfies the call's rule")


def _admissible(terms: CallTerms, candidate: CallCandidate) -> bool:
    if not candidate.eligible:
        return False
    return not terms.eligible_types or candidate.organisation_type in terms.eligible_types


def _infeasible(rule: ConsortiumRule, cap: int, pool: list[CallCandidate]) -> str | None:
    """Why no group drawn from the pool could meet the rule, counted over distinct organisations."""
    if rule.least_members > cap:
        return (
            f"the call needs at least {_count(rule.least_members, 'partner')}; proposals have at most {cap}"
        )
    organisations = {c.organisation_id: c for c in pool}
    fitting = len(organisations)
    if fitting < rule.min_partners:
        return f"the call needs {_count(rule.min_partners, 'partner')}; {_count(fitting, 'eligible organisation')} fit it"
    companies = sum(1 for c in organisations.values() if is_company(c.organisation_type))
    if companies < rule.min_companies:
        return (
            f"the call needs {_count(rule.min_companies, 'company', 'companies')}; "
            f"{_count(companies, 'eligible company', 'eligible companies')} fit it"
        )
    research = sum(1 for c in organisations.values() if is_research(c.organisation_type))
    if research < rule.min_research:
        return (
            f"the call needs {_count(rule.min_research, 'research organisation')}; "
            f"{_count(research, 'eligible research organisation')} fit it"
        )
    countries = len({c.country for c in organisations.values()})
    if countries < rule.min_countries:
        return (
            f"the call needs partners from {_count(rule.min_countries, 'country', 'countries')}; "
            f"fitting members are in {countries}"
        )
    return None


def _group_around(
    anchor: CallCandidate,
    pool: list[CallCandidate],
    rule: ConsortiumRule,
    cap: int,
    pair_fit: PairFit,
    introduced: Collection[frozenset[int]],
) -> tuple[Group | None, str | None]:
    chosen: list[CallCandidate] = [anchor]
    why = {anchor.posting_id: _say("anchor", score=_percent(anchor.score))}
    role = {anchor.posting_id: "anchor"}

    def taken(c: CallCandidate) -> bool:
        return any(m.organisation_id == c.organisation_id for m in chosen)

    # The labs whose offers answer the anchor's need: the pairs already introduced first, then
    # by how well they answer it. The best one joins; more join only while they add to the call.
    answers = []
    for offer in pool:
        if offer.posting_kind != "offer" or offer.organisation_id == anchor.organisation_id:
            continue
        fit = pair_fit(anchor.posting_id, offer.posting_id)
        if fit is not None:
            known = frozenset({anchor.organisation_id, offer.organisation_id}) in introduced
            answers.append((not known, -fit, -offer.score, offer.posting_id, offer, fit, known))
    answers.sort(key=lambda row: row[:4])
    for *_, offer, fit, known in answers:
        if len(chosen) == cap or (len(chosen) >= 2 and _satisfied(rule, chosen)):
            break
        if taken(offer):
            continue
        if len(chosen) >= 2 and not (_gap_closed(rule, chosen, offer) or _new_concepts(offer, chosen)):
            continue  # a second lab for the same need must add to the rule or to the call
        chosen.append(offer)
        role[offer.posting_id] = "answers_need"
        why[offer.posting_id] = _say("answers_known" if known else "answers", fit=_percent(fit))

    # Then whoever the rule still needs, or who covers what the group does not: the member that
    # closes most of the rule's gap, then brings most new call concepts, then fits the call best.
    while len(chosen) < cap and (not _satisfied(rule, chosen) or len(chosen) < 2):
        best = None
        for c in pool:
            if taken(c):
                continue
            gap = _gap_closed(rule, chosen, c)
            new = len(_new_concepts(c, chosen))
            known = any(frozenset({c.organisation_id, m.organisation_id}) in introduced for m in chosen)
            key = (-gap, -new, not known, -c.score, c.posting_id)
            if best is None or key < best[0]:
                best = (key, c, gap, new)
        if best is None or (best[2] == 0 and len(chosen) >= 2):
            break  # nobody left advances the rule: the group fails with the rule's own reason
        _, c, gap, new = best
        chosen.append(c)
        role[c.posting_id] = "completes_rule" if gap else "covers_call"
        why[c.posting_id] = _why_added(c, chosen[:-1], gap, rule)

    violations = rule_violations(rule, chosen)
    if len(chosen) < 2:
        violations.append("a consortium needs at least 2 organisations; only the anchor fits")
    if violations:
        return None, violations[0]
    members = []
    covered: set[str] = set()
    for c in chosen:
        brings = sorted(c.covers - covered)
        covered |= c.covers
        members.append(
            GroupMember(
                c.organisation_id, c.organisation_type, c.country, c.cluster, c.posting_id,
                c.posting_kind, role[c.posting_id], why[c.posting_id], tuple(brings),
            )
        )  # fmt: skip
    score = round(sum(c.score for c in chosen) / len(chosen), 4)
    return Group(tuple(members), score, tuple(sorted(covered))), None


def _satisfied(rule: ConsortiumRule, members: Sequence[_Partner]) -> bool:
    return not rule_violations(rule, members)


def _gap_closed(rule: ConsortiumRule, members: list[CallCandidate], candidate: CallCandidate) -> int:
    """How many of the rule's unmet counts this candidate would advance."""
    gap = 0
    if len(members) < rule.min_partners:
        gap += 1
    if is_company(candidate.organisation_type) and _companies(members) < rule.min_companies:
        gap += 1
    if is_research(candidate.organisation_type) and _research(members) < rule.min_research:
        gap += 1
    countries = {m.country for m in members}
    if candidate.country not in countries and len(countries) < rule.min_countries:
        gap += 1
    return gap


# Why each member is in a group, in the members' two languages.
WHY: dict[str, dict[str, str]] = {
    "anchor": {
        "it": "Il suo bisogno corrisponde al bando ({score}): il gruppo nasce attorno a esso.",
        "en": "Its need fits the call ({score}): the group forms around it.",
    },
    "answers": {
        "it": "La sua offerta risponde al bisogno del capofila (affinità {fit}).",
        "en": "Its offer answers the anchor's need (fit {fit}).",
    },
    "answers_known": {
        "it": "La sua offerta risponde al bisogno del capofila (affinità {fit}); i due sono già stati presentati.",
        "en": "Its offer answers the anchor's need (fit {fit}); the two are already introduced.",
    },
    "added_need": {
        "it": "Il suo bisogno corrisponde al bando ({score}): {detail}.",
        "en": "Its need fits the call ({score}): {detail}.",
    },
    "added_offer": {
        "it": "La sua offerta corrisponde al bando ({score}): {detail}.",
        "en": "Its offer fits the call ({score}): {detail}.",
    },
    "research": {
        "it": "il bando chiede un organismo di ricerca",
        "en": "the call asks for a research organisation",
    },
    "company": {"it": "il bando chiede un'altra impresa", "en": "the call asks for another company"},
    "countries": {
        "it": "il bando chiede partner di più paesi ({country})",
        "en": "the call asks for partners from more countries ({country})",
    },
    "partners": {"it": "il bando chiede più partner", "en": "the call asks for more partners"},
    "covers": {
        "it": "copre ciò che gli altri non coprono: {concepts}",
        "en": "it covers what the others do not: {concepts}",
    },
    "cluster": {"it": "porta un altro cluster ({cluster})", "en": "it brings another cluster ({cluster})"},
    "fits": {"it": "corrisponde al bando", "en": "it fits the call"},
}


def _say(code: str, **params: str) -> dict[str, str]:
    return {lang: text.format(**params) for lang, text in WHY[code].items()}


def _why_added(
    candidate: CallCandidate, members: list[CallCandidate], gap: int, rule: ConsortiumRule
) -> dict[str, str]:
    new = sorted(_new_concepts(candidate, members))
    parts = []
    if gap:
        if is_research(candidate.organisation_type) and _research(members) < rule.min_research:
            parts.append(_say("research"))
        elif is_company(candidate.organisation_type) and _companies(members) < rule.min_companies:
            parts.append(_say("company"))
        elif (
            candidate.country not in {m.country for m in members}
            and len({m.country for m in members}) < rule.min_countries
        ):
            parts.append(_say("countries", country=candidate.country))
        else:
            parts.append(_say("partners"))
    if new:
        parts.append(_say("covers", concepts=", ".join(new[:4])))
    if candidate.cluster not in {m.cluster for m in members}:
        parts.append(_say("cluster", cluster=candidate.cluster))
    parts = parts or [_say("fits")]
    code = "added_need" if candidate.posting_kind == "need" else "added_offer"
    return {
        lang: WHY[code][lang].format(
            score=_percent(candidate.score), detail="; ".join(p[lang] for p in parts)
        )
        for lang in ("it", "en")
    }


def _new_concepts(candidate: CallCandidate, members: list[CallCandidate]) -> set[str]:
    covered: set[str] = set().union(*(m.covers for m in members))
    return set(candidate.covers) - covered


def _companies(members: Sequence[_Partner]) -> int:
    return len({m.organisation_id for m in members if is_company(m.organisation_type)})


def _research(members: Sequence[_Partner]) -> int:
    return len({m.organisation_id for m in members if is_research(m.organisation_type)})


def _percent(score: float) -> str:
    return f"{round(score * 100)}%"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
