"""The pages through HTTP (server-rendered): sign-in, CSRF, the posting form, answers, the desk."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import select, update

from api.auth.service import create_user
from api.core.db import sessions_for, unit_of_work
from api.models import Posting, Suggestion, User
from api.models.enums import Role
from tests import factories
from tests.helpers import csrf_of, register, web_login
from tests.samples import VISION_NEED, VISION_OFFER


@pytest.fixture
def company(client):  # type: ignore[no-untyped-def]
    page = client.get("/register")
    response = client.post(
        "/register",
        data={
            "org_name": "Ingranaggi Modenesi Srl",
            "org_type": "company",
            "city": "Modena",
            "clusters": ["mechatronics_automotive"],
            "email": "tecnico@ingranaggi.example.it",
            "password": "a-long-password",
            "csrf": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/app"
    cookie = response.cookies.get("cm_session")
    assert cookie and "httponly" in response.headers["set-cookie"].lower()
    return client


def test_pages_speak_the_browsers_language_and_switch_on_request(client):
    assert "Come funziona" in client.get("/", headers={"Accept-Language": "it-IT,it;q=0.9"}).text
    assert "How it works" in client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    client.get("/lang/en", follow_redirects=False)
    assert "How it works" in client.get("/", headers={"Accept-Language": "it"}).text


def test_private_pages_send_visitors_to_the_login_page(client):
    response = client.get("/app", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_wrong_password_and_missing_csrf_are_refused(client):
    register(client)
    page = client.get("/login")
    wrong = client.post(
        "/login", data={"email": "nobody@example.it", "password": "x" * 9, "csrf": csrf_of(page.text)}
    )
    assert wrong.status_code == 401 and "E-mail o password errate" in wrong.text
    forged = client.post("/login", data={"email": "nobody@example.it", "password": "x" * 9})
    assert forged.status_code == 403 and "another site" in forged.text
    for token in ("%C3%A9", "%ff", csrf_of(page.text) + "%C3%A9"):  # compared as bytes: a 403, no TypeError
        odd = client.post(
            "/login",
            content=f"email=nobody%40example.it&password=xxxxxxxxx&csrf={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert odd.status_code == 403 and "another site" in odd.text, token


def test_the_posting_form_explains_each_mistake_and_publishes_a_valid_posting(company):
    form = company.get("/app/postings/new?kind=need")
    assert "Che problema, quali vincoli" in form.text
    bad = company.post(
        "/app/postings",
        data={
            "kind": "need",
            "title": "Hi",
            "description": "short",
            "s3_area": "",
            "csrf": csrf_of(form.text),
        },
    )
    assert bad.status_code == 422
    assert 'name="title" value="Hi"' in bad.text and bad.text.count('class="field-error"') >= 3
    good = company.post(
        "/app/postings",
        data={
            **{k: VISION_NEED[k] for k in ("kind", "title", "description", "s3_area")},
            "keywords": ", ".join(VISION_NEED["keywords"]),
            "trl": "6",
            "csrf": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/app?posted=1"
    # The same form submitted again (a double click, a reload) publishes nothing twice.
    submission = re.search(r'name="submission" value="([^"]+)"', form.text).group(1)
    fields = {
        **{k: VISION_NEED[k] for k in ("kind", "title", "description", "s3_area")},
        "keywords": ", ".join(VISION_NEED["keywords"]),
        "csrf": csrf_of(form.text),
    }
    for _ in range(2):
        company.post("/app/postings", data={**fields, "submission": submission}, follow_redirects=False)
    mine = company.get("/api/v1/postings?mine=true").json()
    assert len(mine) == 2  # the first form (no key) and this one, once
    dashboard = company.get(good.headers["location"]).text
    assert "passano dai facilitatori del cluster" in dashboard
    assert VISION_NEED["title"] in dashboard and 'data-state="pending"' in dashboard


def test_odd_digits_and_huge_ids_in_pages_get_a_4xx_not_a_server_error(company, settings):
    form = company.get("/app/postings/new?kind=need")
    fields = {k: VISION_NEED[k] for k in ("kind", "title", "description", "s3_area")}
    # Digits to str.isdigit, not to int() (or not a TRL an int reads); the last: more digits than int() converts.
    for trl in ("²", "①", "٣", "1" * 4301):
        response = company.post("/app/postings", data={**fields, "trl": trl, "csrf": csrf_of(form.text)})
        assert response.status_code == 422 and 'class="field-error"' in response.text, trl
    for huge in ("99999999999999999999", str(2**63), str(2**31)):
        for path in (f"/app/suggestions/{huge}", f"/app/consortia/{huge}", f"/calls/{huge}"):
            assert company.get(path).status_code in (404, 422), path
    with sessions_for(settings.resolved_database_url)() as session:
        assert session.scalars(select(Posting).where(Posting.title == VISION_NEED["title"])).first() is None


def test_user_text_is_escaped(company):
    form = company.get("/app/postings/new")
    company.post(
        "/app/postings",
        data={
            "kind": "need",
            "title": "<script>alert('x')</script> difetti",
            "description": VISION_NEED["description"],
            "s3_area": "mechatronics_automotive",
            "csrf": csrf_of(form.text),
        },
    )
    page = company.get("/app").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_members_answer_on_the_page_and_facilitators_review_on_the_desk(client, settings):
    company, lab = register(client), register(client, org_type="research_lab")
    need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        suggestion = factories.suggestion(session, need["id"], offer["id"], status="pending_review")
        suggestion_id = suggestion.id
        for email, cluster in (
            ("mech@example.it", "mechatronics_automotive"),
            ("agri@example.it", "agrifood"),
        ):
            create_user(
                session, email=email, password="a-long-password", role=Role.facilitator, clusters=[cluster]
            )

    web_login(client, "agri@example.it")
    assert "Nessun abbinamento in attesa" in client.get("/desk").text
    assert client.get("/app").status_code == 200  # a facilitator has no member area: sent to the desk
    web_login(client, "mech@example.it")
    desk = client.get("/desk").text
    assert str(escape(need["title"])) in desk and str(escape(offer["title"])) in desk
    no_note = client.post(
        "/desk/review", data={"ids": [suggestion_id], "action": "reject", "csrf": csrf_of(desk)}
    )
    assert no_note.status_code == 422 and "serve una nota" in no_note.text
    approved = client.post(
        "/desk/review", data={"ids": [suggestion_id], "action": "approve", "csrf": csrf_of(desk)}
    )
    assert "1 abbinamenti rivisti" in approved.text and str(escape(need["title"])) not in approved.text

    client.cookies.clear()
    assert web_login(client, company["user"]["email"]).status_code == 303
    page = client.get(f"/app/suggestions/{suggestion_id}")
    assert "Sono interessato" in page.text
    client.post(
        f"/app/suggestions/{suggestion_id}/answer", data={"interested": "yes", "csrf": csrf_of(page.text)}
    )
    assert "in attesa dell" in client.get(f"/app/suggestions/{suggestion_id}").text
    with sessions() as session:
        assert session.scalar(select(Suggestion.need_interested)) is True


def test_another_organisations_suggestion_page_is_not_found(client, settings):
    test_members_answer_on_the_page_and_facilitators_review_on_the_desk(client, settings)
    client.cookies.clear()
    stranger = register(client)
    web_login(client, stranger["user"]["email"])
    with sessions_for(settings.resolved_database_url)() as session:
        suggestion_id = session.scalar(select(Suggestion.id))
    page = client.get(f"/app/suggestions/{suggestion_id}")
    assert page.status_code == 404 and "Pagina non trovata" in page.text
    assert client.get("/desk").status_code == 403
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/api/v1/no/such").json()["detail"].startswith("No such address")


def test_members_choose_how_often_they_are_mailed_and_in_which_language(company, settings):
    page = company.get("/app/profile")
    assert 'value="instant" checked' in page.text
    saved = company.post(
        "/app/profile", data={"email_frequency": "daily", "language": "en", "csrf": csrf_of(page.text)}
    )
    assert "Saved." in saved.text and 'value="daily" checked' in saved.text
    with sessions_for(settings.resolved_database_url)() as session:
        user = session.scalar(select(User).where(User.email == "tecnico@ingranaggi.example.it"))
        assert (user.email_frequency, user.language) == ("daily", "en")
    bad = company.post("/app/profile", data={"email_frequency": "hourly", "csrf": csrf_of(page.text)})
    assert bad.status_code == 422


def test_the_cluster_dashboard_shows_the_funnel_unmet_needs_and_exports_csv(client, settings):
    company, lab = register(client), register(client, org_type="research_lab")
    need = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
    lonely = client.post(
        "/api/v1/postings",
        json={**VISION_NEED, "title": "Rivestimenti anti-usura per stampi"},
        headers=company["headers"],
    ).json()
    offer = client.post(
        "/api/v1/postings", json={**VISION_OFFER, "s3_area": "services_innovation"}, headers=lab["headers"]
    ).json()
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        factories.suggestion(session, need["id"], offer["id"], status="introduced", score=0.9)
        create_user(
            session,
            email="mech@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=["mechatronics_automotive"],
        )
    web_login(client, "mech@example.it")
    page = client.get("/desk/dashboard?lang=en").text
    assert "Both interested" in page and "Needs without a good offer" in page
    assert "Rivestimenti anti-usura per stampi" in page  # the unmet need
    assert re.search(r'class="big">\d+ s</p>', page)  # the first match came within seconds
    assert "innovazione nei servizi" in page or "innovation in services" in page  # the cross-cluster pair
    csv_text = client.get("/desk/dashboard/suggestions.csv").text
    assert csv_text.startswith("\ufeffid,score,status") and "introduced" in csv_text
    unmet = {
        line.split(",")[0] for line in client.get("/desk/dashboard/unmet_needs.csv").text.splitlines()[1:]
    }
    assert str(lonely["id"]) in unmet and str(need["id"]) not in unmet
    assert client.get("/desk/dashboard/passwords.csv").status_code == 404


def test_an_admin_sets_roles_clusters_and_review_policies(client, settings):
    member = register(client)
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        create_user(session, email="admin@example.it", password="a-long-password", role=Role.admin)
    web_login(client, member["user"]["email"])
    assert client.get("/admin").status_code == 403
    client.cookies.clear()
    web_login(client, "admin@example.it")
    page = client.get("/admin")
    assert member["user"]["email"] in page.text
    token = csrf_of(page.text)
    client.post(
        f"/admin/users/{member['user']['id']}",
        data={"role": "facilitator", "clusters": ["agrifood", "construction"], "csrf": token},
    )
    client.post("/admin/policies/agrifood", data={"auto_deliver_above": "0,85", "csrf": token})
    bad = client.post("/admin/policies/agrifood", data={"auto_deliver_above": "tanto", "csrf": token})
    assert bad.status_code == 422 and "not a score" in bad.text and "Richiesta non valida" in bad.text
    with sessions_for(settings.resolved_database_url)() as session:
        user = session.get(User, member["user"]["id"])
        assert (user.role, user.clusters) == ("facilitator", ["agrifood", "construction"])
    policies = {
        p["s3_area"]: p["auto_deliver_above"]
        for p in client.get("/api/v1/clusters/policies", headers=member["headers"]).json()
    }
    assert policies["agrifood"] == 0.85


def test_a_facilitator_cannot_review_outside_their_clusters_on_the_desk(client, settings):
    test_members_answer_on_the_page_and_facilitators_review_on_the_desk(client, settings)
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        suggestion = session.scalar(select(Suggestion))
        suggestion.status = "pending_review"
        suggestion_id = suggestion.id
    client.cookies.clear()
    web_login(client, "agri@example.it")
    desk = client.get("/desk").text
    forged = client.post(
        "/desk/review", data={"ids": [suggestion_id], "action": "approve", "csrf": csrf_of(desk)}
    )
    # Another cluster's pair does not exist for this facilitator: not even its id is confirmed.
    assert forged.status_code == 404 and f"Suggestion {suggestion_id} does not exist" in forged.text
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        assert session.get(Suggestion, suggestion_id).status == "pending_review"


def test_a_member_edits_the_organisation_profile_and_the_contact_it_shares(company, settings):
    page = company.get("/app/profile")
    bad = company.post(
        "/app/organisation",
        data={
            "name": "X",
            "org_type": "company",
            "contact_email": "not-an-email",
            "csrf": csrf_of(page.text),
        },
    )
    assert bad.status_code == 422 and bad.text.count('class="field-error"') == 2
    company.post(
        "/app/organisation",
        data={
            "name": "Ingranaggi Modenesi S.p.A.",
            "org_type": "company",
            "city": "Carpi",
            "contact_email": "innovazione@ingranaggi.example.it",
            "clusters": ["mechatronics_automotive", "energy_sustainability"],
            "csrf": csrf_of(page.text),
        },
    )
    with sessions_for(settings.resolved_database_url)() as session:
        user = session.scalar(select(User).where(User.email == "tecnico@ingranaggi.example.it"))
        organisation = user.organisation
        assert (organisation.name, organisation.city, organisation.contact_email) == (
            "Ingranaggi Modenesi S.p.A.",
            "Carpi",
            "innovazione@ingranaggi.example.it",
        )
        assert organisation.clusters == ["energy_sustainability", "mechatronics_automotive"]


def test_a_matched_posting_without_a_suggestion_says_so_with_what_would_help(client, settings):
    company = register(client)
    short = {**VISION_NEED, "keywords": [], "trl": None}
    need = client.post("/api/v1/postings", json=short, headers=company["headers"]).json()
    lab = register(client, org_type="research_lab")
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        session.execute(update(Posting).values(pipeline_state="matched"))
    web_login(client, company["user"]["email"])
    page = client.get("/app").text
    assert "Nessun abbinamento per ora" in page
    assert "Il bisogno potrebbe indicare il proprio TRL" in page.split("Nessun abbinamento per ora")[1]

    with unit_of_work(sessions) as session:
        factories.suggestion(session, need["id"], offer["id"], status="delivered", score=0.91)
    page = client.get("/app").text
    assert "Nessun abbinamento per ora" not in page
    assert "Abbinamento forte (91%)" in page
