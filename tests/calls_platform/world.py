"""Calls and consortium proposals written directly, for the authorization matrix and API tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.core.db import unit_of_work
from api.models import Call, Consortium, ConsortiumMember, User
from api.models.base import utcnow

MECH = "mechatronics_automotive"

CALL_BODY: dict[str, Any] = {
    "title": "Bando STEP: visione artificiale per il controllo qualità nella manifattura meccanica",
    "description": (
        "Il bando finanzia progetti di ricerca industriale e sviluppo sperimentale tra imprese e "
        "laboratori di ricerca sul controllo qualità automatico in linea: sistemi di visione "
        "artificiale e deep learning per rilevare difetti superficiali (cricche, graffi, bave, "
        "porosità) su componenti metallici lavorati e ingranaggi, sostituendo l'ispezione manuale."
    ),
    "keywords": ["visione artificiale", "controllo qualità", "difetti superficiali", "deep learning"],
    "programme": "step",
    "link": "https://fesr.regione.emilia-romagna.it/bandi/step-digitale",
    "deadline": (utcnow() + timedelta(days=60)).isoformat(),
    "s3_areas": [MECH],
    "eligible_types": ["company", "startup", "research_lab", "university_dept", "tech_centre"],
    "trl_min": 4,
    "trl_max": 8,
    "budget_min": 100000,
    "budget_max": 500000,
    "consortium_rule": {"min_partners": 2, "min_companies": 1, "min_research": 1},
}


def make_call(session, **overrides: Any) -> Call:  # type: ignore[no-untyped-def]
    now = utcnow()
    fields: dict[str, Any] = dict(
        title=CALL_BODY["title"],
        description=CALL_BODY["description"],
        keywords=CALL_BODY["keywords"],
        language="it",
        programme="step",
        link=CALL_BODY["link"],
        opens_at=now,
        deadline=now + timedelta(days=60),
        s3_areas=[MECH],
        eligible_types=[],
        consortium_rule={
            "min_partners": 2,
            "max_partners": 5,
            "min_companies": 1,
            "min_research": 1,
            "min_countries": 1,
        },
        status="open",
        pipeline_state="matched",
    )
    fields.update(overrides)
    call = Call(**fields)
    session.add(call)
    session.flush()
    return call


def make_consortium(
    session, call: Call, organisation_ids: list[int], *, status: str, answers=None
) -> Consortium:  # type: ignore[no-untyped-def]
    consortium = Consortium(
        call_id=call.id,
        member_key=",".join(map(str, sorted(organisation_ids))) + f":{status}",
        status=status,
        score=0.7,
        explanation={"covers": ["visione artificiale"]},
    )
    consortium.members = [
        ConsortiumMember(
            organisation_id=org,
            why={
                "role": "anchor" if i == 0 else "answers_need",
                "why": {"it": "Corrisponde al bando.", "en": "It fits the call."},
                "covers": [],
            },
            answer=(answers or {}).get(org),
        )
        for i, org in enumerate(organisation_ids)
    ]
    session.add(consortium)
    session.flush()
    return consortium


def calls_world(world) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One call of the need's cluster and three proposals pairing the owner with the "delivered"
    lab: waiting for review, invited, formed (both accepted). Built once per matrix world."""
    if "call" in world.ids:
        return world.ids
    with unit_of_work(world.sessions) as session:
        owner = session.get(User, world.users["owner"]).organisation_id
        lab = session.get(User, world.users["delivered"]).organisation_id
        call = make_call(session)
        world.ids["call"] = call.id
        for status in ("pending_review", "invited", "formed"):
            answers = {owner: "accepted", lab: "accepted"} if status == "formed" else None
            world.ids[f"consortium_{status}"] = make_consortium(
                session, call, [owner, lab], status=status, answers=answers
            ).id
    return world.ids


def throwaway_call(world) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with unit_of_work(world.sessions) as session:
        return {"call_id": make_call(session).id}
