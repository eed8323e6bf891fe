"""In a real browser (headless Chromium): the facilitator publishes a call from the page, and
approves the consortium the platform proposes for it. The company and the lab with fitting
postings are registered over the API, to keep the run short. Screenshots land in
test-artifacts/calls-journey/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from api.auth.service import create_user
from api.core.db import sessions_for, unit_of_work
from api.models.enums import Role
from tests.calls_platform.world import CALL_BODY, MECH
from tests.e2e.stack import Stack
from tests.e2e.test_browser_journey import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import register, wait_for
from tests.infra import migrated_database
from tests.samples import VISION_NEED, VISION_OFFER

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "calls-journey"
FACILITATOR = "facilitatore.bandi@example.it"
PASSWORD = "a-long-password"


@pytest.fixture(scope="module")
def calls_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("calls-browser")
    with migrated_database("sqlite", workdir) as database_url:
        stack = Stack(database_url=database_url, redis_url=redis_url, data_dir=workdir)
        with unit_of_work(sessions_for(database_url)) as session:
            create_user(session, email=FACILITATOR, password=PASSWORD, role=Role.facilitator, clusters=[MECH])
        try:
            stack.start_api()
            stack.start_worker(processes=1, threads=2)
            yield stack
        finally:
            stack.stop()
            if any(p.returncode not in (None, 0) for p in stack.workers):
                print(stack.logs())


def test_the_facilitator_publishes_a_call_from_the_page_and_approves_its_consortium(calls_stack):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    base = calls_stack.base_url
    with calls_stack.client() as api:
        members = [register(api, org_type=t) for t in ("company", "research_lab")]
        for member, body in zip(members, (VISION_NEED, VISION_OFFER), strict=True):
            assert api.post("/api/v1/postings", json=body, headers=member["headers"]).status_code == 201
        wait_for(
            lambda: all(
                p["pipeline_state"] == "matched"
                for m in members
                for p in api.get("/api/v1/postings?mine=true", headers=m["headers"]).json()
            ),
            timeout=90,
            what="both postings to be matched",
        )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(locale="it-IT", viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=email]", FACILITATOR)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        expect(page).to_have_url(f"{base}/desk")

        page.click("header a[href='/calls']")
        page.click("a[href='/calls/new']")
        page.fill("input[name=title]", CALL_BODY["title"])
        page.fill("textarea[name=description]", CALL_BODY["description"])
        page.fill("input[name=keywords]", ", ".join(CALL_BODY["keywords"]))
        page.select_option("select[name=programme]", "step")
        page.fill("input[name=link]", CALL_BODY["link"])
        page.fill("input[name=deadline]", (date.today() + timedelta(days=60)).isoformat())
        for org_type in ("company", "research_lab"):
            page.check(f"input[name=eligible_types][value={org_type}]")
        page.fill("input[name=trl_min]", "4")
        page.fill("input[name=trl_max]", "8")
        page.fill("input[name=min_companies]", "1")
        page.fill("input[name=min_research]", "1")
        page.screenshot(path=str(SHOTS / "1-call-form.png"), full_page=True)
        page.click("#call-form button[type=submit]")
        expect(page).to_have_url(f"{base}/calls/1?published=1")

        # The workers embed the call, find the two fitting postings and propose the pair.
        proposal = page.locator("[data-consortium]")
        wait_for(
            lambda: page.reload() and proposal.count() == 1,
            timeout=60,
            interval=1,
            what="a consortium proposal",
        )
        expect(page.locator("#funnel")).to_contain_text("2")
        page.screenshot(path=str(SHOTS / "2-call-proposal.png"), full_page=True)
        proposal.locator("button[value=approve]").click()
        expect(page).to_have_url(f"{base}/calls/1?reviewed=approve#consortium-1")
        expect(proposal).to_contain_text("inviti inviati")
        page.screenshot(path=str(SHOTS / "3-call-approved.png"), full_page=True)
        browser.close()

    with calls_stack.client() as api:
        for member in members:
            kinds = [n["kind"] for n in api.get("/api/v1/notifications", headers=member["headers"]).json()]
            assert "call.fit" in kinds and "consortium.invitation" in kinds
