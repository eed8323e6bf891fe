"""The whole pipeline through HTTP, real Redis, separate dramatiq worker processes, the real model
and real FAISS replicas: the way members use it."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.matching.service import MatchPolicy
from tests.e2e.expectations import (
    check_suggestions,
    demo_bodies,
    pairs_found_and_expected,
    register_demo_members,
)
from tests.e2e.stack import EventStream
from tests.helpers import register, wait_for
from tests.samples import VIBRATION_NEEDS, VIBRATION_OFFER, VISION_NEED, VISION_OFFER, WINE_OFFER

pytestmark = pytest.mark.e2e


def pipeline_state(client, posting, headers):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/postings/{posting['id']}", headers=headers).json()["pipeline_state"]


def wait_matched(client, posting, headers, timeout=90):  # type: ignore[no-untyped-def]
    wait_for(
        lambda: pipeline_state(client, posting, headers) in ("matched", "failed"),
        timeout=timeout,
        what=f"posting {posting['id']} to be matched",
    )
    return pipeline_state(client, posting, headers)


def test_a_need_and_a_matching_offer_meet_on_the_live_stream_and_get_introduced(stack):
    with stack.client() as client:
        company = register(client, org_type="company")
        lab = register(client, org_type="research_lab")
        company_stream = EventStream(stack.base_url, company["access_token"], last_event_id="0")
        lab_stream = EventStream(stack.base_url, lab["access_token"], last_event_id="0")
        try:
            need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
            offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
            assert need["pipeline_state"] == offer["pipeline_state"] == "pending"

            event = company_stream.next(kind="suggestion.new", timeout=90)
            assert event["payload"]["need"]["id"] == need["id"]
            assert event["payload"]["offer"]["id"] == offer["id"]
            suggestion_id = event["payload"]["suggestion_id"]
            assert lab_stream.next(kind="suggestion.new")["payload"]["suggestion_id"] == suggestion_id

            url = f"/api/v1/suggestions/{suggestion_id}"
            seen = client.get(url, headers=company["headers"]).json()
            assert seen["your_side"] == "need" and seen["contact"] is None
            assert seen["explanation"]["reasons"] and seen["score_parts"]["semantic"] > 0
            stranger = register(client)
            assert client.get(url, headers=stranger["headers"]).status_code == 404

            client.post(
                f"{url}/response", json={"interested": True}, headers=company["headers"]
            ).raise_for_status()
            answered = client.post(
                f"{url}/response", json={"interested": True}, headers=lab["headers"]
            ).json()
            assert answered["status"] == "introduced"
            assert answered["contact"]["people"] == [company["user"]["email"]]
            introduced = company_stream.next(kind="suggestion.introduced")
            assert introduced["payload"]["contact"]["people"] == [lab["user"]["email"]]
            assert (
                lab_stream.next(kind="suggestion.introduced")["payload"]["contact"]["organisation"]
                == company["organization"]["name"]
            )
        finally:
            company_stream.close()
            lab_stream.close()


def test_every_company_with_the_same_problem_hears_of_the_one_lab_that_solves_it(stack):
    """A popular lab: one offer, then eight companies posting its problem in their own words,
    one after the other. Each hears of the lab (budgets permitting), not only the first two."""
    with stack.client() as client:
        lab = register(client, org_type="research_lab")
        offer = client.post("/api/v1/postings", json=VIBRATION_OFFER, headers=lab["headers"]).json()
        assert wait_matched(client, offer, lab["headers"]) == "matched"
        companies = []
        for title, description, keywords in VIBRATION_NEEDS:
            company = register(client, org_type="company")
            body = {"kind": "need", "title": title, "description": description, "keywords": keywords}
            body["s3_area"] = "mechatronics_automotive"
            need = client.post("/api/v1/postings", json=body, headers=company["headers"]).json()
            assert wait_matched(client, need, company["headers"]) == "matched"
            companies.append((company, need))
        for company, need in companies:
            listed = client.get(f"/api/v1/suggestions?posting_id={need['id']}", headers=company["headers"])
            offers = [s["offer"]["id"] for s in listed.json()]
            assert offer["id"] in offers, f"{need['title']!r} did not hear of the lab"
        told = client.get("/api/v1/suggestions?limit=50", headers=lab["headers"]).json()
        assert {s["need"]["id"] for s in told if s["offer"]["id"] == offer["id"]} == {
            need["id"] for _, need in companies
        }


def test_an_unrelated_pair_gets_no_suggestion(stack):
    with stack.client() as client:
        company = register(client, org_type="company")
        lab = register(client, org_type="research_lab", clusters=("agrifood",))
        need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
        offer = client.post("/api/v1/postings", json=WINE_OFFER, headers=lab["headers"]).json()
        assert wait_matched(client, need, company["headers"]) == "matched"
        assert wait_matched(client, offer, lab["headers"]) == "matched"
        for party, posting in ((company, need), (lab, offer)):
            listed = client.get(
                f"/api/v1/suggestions?posting_id={posting['id']}", headers=party["headers"]
            ).json()
            assert [
                s for s in listed if {s["need"]["id"], s["offer"]["id"]} == {need["id"], offer["id"]}
            ] == []


def test_a_posting_accepted_while_redis_is_down_is_matched_once_redis_is_back(stack):
    # A second API process whose Redis is unreachable: the posting must still be accepted, stored,
    # and picked up by the workers' reconciler.
    down = stack.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(down)) as cut_off, stack.client() as client:
        assert cut_off.get("/readyz").status_code == 503
        company = register(cut_off)
        response = cut_off.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"])
        assert response.status_code == 201
        assert wait_matched(client, response.json(), company["headers"]) == "matched"


def test_concurrent_needs_and_offers_on_several_workers_miss_no_pair_and_duplicate_none(stack):
    """The 40 demo postings arrive concurrently in random order; afterwards every pair that
    qualifies by the matcher's own scoring has exactly one suggestion."""
    with stack.client() as client:
        bodies = demo_bodies(register_demo_members(client))
        random.Random(7).shuffle(bodies)

        def post(item):  # type: ignore[no-untyped-def]
            body, member = item
            with stack.client() as own:
                response = own.post("/api/v1/postings", json=body, headers=member["headers"])
                assert response.status_code == 201, response.text
                return response.json(), member

        with ThreadPoolExecutor(max_workers=8) as pool:
            posted = list(pool.map(post, bodies))
        for posting, member in posted:
            assert wait_matched(client, posting, member["headers"], timeout=180) == "matched"

    ids = {posting["id"] for posting, _ in posted}
    policy = MatchPolicy.from_settings(stack.settings)
    found, expected = pairs_found_and_expected(stack.settings.resolved_database_url, ids, policy)
    assert len(expected) >= 10, "the demo set should contain many qualifying pairs"
    check_suggestions(found, expected, policy.calibration.threshold)
