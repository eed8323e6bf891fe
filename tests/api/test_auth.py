import threading

import pytest

from api.core.db import sessions_for
from api.core.errors import Conflict
from api.models import Organisation
from api.organisations.schemas import OrganisationCreate
from api.organisations.service import create_organisation
from tests.helpers import register


def test_register_returns_user_organisation_and_a_working_token(client):
    body = register(client, org_type="research_lab", clusters=("health_wellbeing",))
    assert body["user"]["role"] == "member"
    assert body["organization"]["type"] == "research_lab"
    me = client.get("/api/v1/auth/me", headers=body["headers"])
    assert me.status_code == 200 and me.json()["email"] == body["user"]["email"]


def test_token_endpoint_accepts_right_password_only(client):
    body = register(client)
    email = body["user"]["email"]
    ok = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"
    wrong = client.post("/api/v1/auth/token", json={"email": email, "password": "nope-nope"})
    assert wrong.status_code == 401 and "Wrong e-mail or password" in wrong.json()["detail"]


def test_duplicate_email_is_a_conflict_that_does_not_echo_the_address(client):
    body = register(client)
    again = client.post(
        "/api/v1/auth/register",
        json={
            "email": body["user"]["email"].upper(),
            "password": "a-long-password",
            "organization": {"name": "Other", "type": "company"},
        },
    )
    detail = again.json()["detail"]
    assert again.status_code == 409 and "reset the password" in detail
    assert body["user"]["email"] not in detail.lower()


def test_invalid_registration_says_what_is_wrong(client):
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": "not-an-email",
            "password": "short",
            "organization": {"name": "X Srl", "type": "bank"},
        },
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "email" in detail and "password" in detail and "organization.type" in detail


def test_requests_without_a_valid_token_are_refused(client):
    assert client.get("/api/v1/postings").status_code == 401
    bad = client.get("/api/v1/postings", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401 and "log in again" in bad.json()["detail"]


def test_nobody_registers_as_an_organisation_that_already_exists(client):
    first = register(client)
    name = first["organization"]["name"]
    copycat = client.post(
        "/api/v1/auth/register",
        json={
            "email": "copycat@example.it",
            "password": "a-long-password",
            "organization": {"name": f"  {name.upper()} ", "type": "company"},
        },
    )
    assert copycat.status_code == 409 and "already registered" in copycat.json()["detail"]


def test_two_registrations_of_one_name_at_once_make_one_organisation(settings):
    sessions = sessions_for(settings.resolved_database_url)
    data = OrganisationCreate(name="Officina Gemella Srl", type="company")
    first, second = sessions(), sessions()
    outcome: list[object] = []

    def register_second() -> None:
        try:
            create_organisation(second, data=data)
            second.commit()
            outcome.append("created")
        except Conflict as exc:
            second.rollback()
            outcome.append(exc)

    create_organisation(first, data=data)  # not committed yet
    racer = threading.Thread(target=register_second)
    racer.start()
    racer.join(0.5)
    assert racer.is_alive()  # the second check waits for the first registration to end
    first.commit()
    racer.join(10)
    first.close()
    second.close()
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    with sessions() as session:
        assert session.query(Organisation).filter_by(name=data.name).count() == 1


@pytest.mark.parametrize(
    ("first", "lookalike"),
    [
        ("ÉTOILE MECCANICA S.r.l.", "étoile meccanica s.r.l."),
        ("Étoile Meccanica", "Etoile Meccanica"),
        ("Laboratorio Visione", "Laboratorio Visione\u200b"),
        ("Laboratorio Visione", "Laboratorio\u00a0Visione"),
        ("Ｍｅｃｃａｎｉｃａ Uno", "Meccanica Uno"),
    ],
)
def test_a_name_that_only_looks_different_is_taken_too(client, first, lookalike):
    for n, name in enumerate((first, lookalike)):
        response = client.post(
            "/api/v1/auth/register",
            json={
                "email": f"lookalike-{n}@example.it",
                "password": "a-long-password",
                "organization": {"name": name, "type": "company"},
            },
        )
        assert response.status_code == (201 if n == 0 else 409), response.text


def test_an_organisation_states_its_country_as_a_two_letter_code(client):
    def registration(email: str, country: object) -> dict:
        organization = {"name": f"Org {email}", "type": "research_lab", "country": country}
        return {"email": email, "password": "a-long-password", "organization": organization}

    made = client.post("/api/v1/auth/register", json=registration("lab@example.de", "de"))
    assert made.status_code == 201 and made.json()["organization"]["country"] == "DE"
    default = register(client)
    assert default["organization"]["country"] == "IT"
    wrong = client.post("/api/v1/auth/register", json=registration("lab@example.fr", "France"))
    assert wrong.status_code == 422 and "organization.country" in wrong.json()["detail"]
