"""The whole journey in a real browser (Debian's Chromium, headless, driven by Playwright).

A company registers and posts a need; a lab posts a matching offer; the cluster's facilitator
approves the suggestion on the review desk; the company's bell shows it without a reload; both
say they are interested and both see the other's contact. Each step leaves a screenshot in
test-artifacts/browser-journey/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from api.auth.service import create_user
from api.clusters.service import set_policy
from api.core.db import sessions_for, unit_of_work
from api.models.enums import Role
from tests.e2e.stack import Stack
from tests.infra import migrated_database
from tests.samples import VISION_NEED, VISION_OFFER

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser-journey"
FACILITATOR = "facilitatore.meccatronica@example.it"
PASSWORD = "a-long-password"


@pytest.fixture(scope="module")
def web_stack(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("browser")
    with migrated_database("sqlite", workdir) as database_url:
        stack = Stack(database_url=database_url, redis_url=redis_url, data_dir=workdir)
        with unit_of_work(sessions_for(database_url)) as session:
            facilitator = create_user(
                session,
                email=FACILITATOR,
                password=PASSWORD,
                role=Role.facilitator,
                clusters=["mechatronics_automotive"],
            )
            # This cluster reviews every suggestion (the stack's default lets them through).
            set_policy(session, user=facilitator, s3_area="mechatronics_automotive", auto_deliver_above=None)
        try:
            stack.start_api()
            stack.start_worker(processes=1, threads=2)
            yield stack
        finally:
            stack.stop()
            if request.node.session.testsfailed or any(p.returncode not in (None, 0) for p in stack.workers):
                print(stack.logs())


@pytest.fixture(scope="module")
def browser_contexts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[BrowserContext]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        contexts = []
        for name in ("company", "lab", "facilitator"):
            contexts.append(
                playwright.chromium.launch_persistent_context(
                    str(tmp_path_factory.mktemp(f"profile-{name}")),
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    headless=True,
                    locale="it-IT",
                    viewport={"width": 375, "height": 812}
                    if name == "company"
                    else {"width": 1280, "height": 900},
                )
            )
        yield contexts
        for context in contexts:
            context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def bell_shows(page: Page, base: str, count: str, timeout: float = 5_000) -> None:
    try:
        expect(page.locator("#bell-count")).to_have_text(count, timeout=timeout)
    except AssertionError as exc:
        # Say what the member was told, so a failure names the notification that came early.
        told = page.request.get(f"{base}/api/v1/notifications").json()
        raise AssertionError(f"{exc}\nthe member's notifications: {told}") from None


def register_and_post(page: Page, base: str, *, org: str, org_type: str, email: str, body: dict) -> None:
    page.goto(f"{base}/register")
    page.fill("input[name=org_name]", org)
    page.select_option("select[name=org_type]", org_type)
    page.fill("input[name=city]", "Modena")
    page.check("input[value=mechatronics_automotive]")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page).to_have_url(f"{base}/app")
    page.click(f"a[href='/app/postings/new?kind={body['kind']}']")
    page.fill("input[name=title]", body["title"])
    page.fill("textarea[name=description]", body["description"])
    page.fill("input[name=keywords]", ", ".join(body["keywords"]))
    page.select_option("select[name=s3_area]", body["s3_area"])
    page.fill("input[name=trl]", str(body["trl"]))
    page.click("main form button[type=submit]")
    expect(page).to_have_url(f"{base}/app?posted=1")
    # The pipeline state updates live on the page until the posting is matched.
    expect(page.locator(f"[data-posting] >> text={body['title']}")).to_be_visible()
    expect(page.locator("[data-posting][data-state=matched]")).to_have_count(1, timeout=90_000)


def test_company_lab_and_facilitator_walk_the_whole_journey(web_stack: Stack, browser_contexts) -> None:
    base = web_stack.base_url
    company, lab, facilitator = (context.new_page() for context in browser_contexts)

    register_and_post(
        company,
        base,
        org="Ingranaggi Modenesi Srl",
        org_type="company",
        email="tecnico@ingranaggi.example.it",
        body=VISION_NEED,
    )
    shot(company, "1-company-posted-need")
    register_and_post(
        lab,
        base,
        org="Laboratorio Visione Emilia",
        org_type="research_lab",
        email="lab@visione.example.it",
        body=VISION_OFFER,
    )
    shot(lab, "2-lab-posted-offer")
    bell_shows(company, base, "0")  # the suggestion waits for the facilitator

    facilitator.goto(f"{base}/login")
    facilitator.fill("input[name=email]", FACILITATOR)
    facilitator.fill("input[name=password]", PASSWORD)
    facilitator.click("main form button[type=submit]")
    expect(facilitator).to_have_url(f"{base}/desk")
    card = facilitator.locator("article.review")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(VISION_NEED["title"])
    shot(facilitator, "3-facilitator-desk")
    # From the keyboard: j to the first suggestion, x to select it, a to approve.
    facilitator.keyboard.press("j")
    facilitator.keyboard.press("x")
    expect(card.locator("input[name=ids]")).to_be_checked()
    facilitator.keyboard.press("a")
    expect(facilitator.locator("p.ok")).to_be_visible()
    shot(facilitator, "4-facilitator-approved")
    facilitator.click("a[href='/desk/dashboard']")
    expect(facilitator.locator(".bar-row")).to_have_count(4)  # the funnel
    shot(facilitator, "4b-cluster-dashboard")

    # The company's page was never reloaded: the bell heard about it on the live stream.
    bell_shows(company, base, "1", timeout=30_000)
    company.click("#bell summary")
    expect(company.locator("#bell-count")).to_have_text("0")  # opening the bell marks it read
    shot(company, "5-company-bell")
    company.click("#bell-list a")
    expect(company.locator("h1")).to_contain_text("Abbinamento")
    shot(company, "6-company-suggestion")
    company.click("button[value=yes]")
    expect(company.locator("main")).to_contain_text("in attesa dell'altra parte")

    lab.goto(f"{base}/app")
    lab.click("#suggestions a")
    lab.click("button[value=yes]")
    expect(lab.locator("#contact")).to_contain_text("tecnico@ingranaggi.example.it")
    shot(lab, "7-lab-sees-company-contact")
    company.reload()
    expect(company.locator("#contact")).to_contain_text("lab@visione.example.it")
    shot(company, "8-company-sees-lab-contact")

    # The bell, the live stream and the state polling used the HttpOnly cookie: no session
    # token in any page nor in any log line of the API and the workers.
    tokens = [c["value"] for ctx in browser_contexts for c in ctx.cookies() if c["name"] == "cm_session"]
    assert len(tokens) == 3
    pages = [page.content() for page in (company, lab, facilitator)]
    logs = "\n".join(path.read_text(errors="replace") for path in web_stack.data_dir.glob("*.log"))
    assert re.search(r'GET /api/v1/notifications/stream HTTP/1\.1\\?" 200', logs)
    assert re.search(r'POST /api/v1/notifications/\d+/read HTTP/1\.1\\?" 200', logs)  # cookie + CSRF header
    for token in tokens:
        assert not any(token in html for html in pages) and token not in logs
