from tests.helpers import register
from tests.samples import VISION_NEED, VISION_OFFER


def test_create_posting_is_accepted_pending_with_detected_language(client):
    company = register(client)
    response = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"])
    assert response.status_code == 201, response.text
    posting = response.json()
    assert posting["pipeline_state"] == "pending"
    assert posting["language"] == "it"
    assert posting["organisation"]["id"] == company["organization"]["id"]
    mine = client.get("/api/v1/postings?mine=true", headers=company["headers"]).json()
    assert [p["id"] for p in mine] == [posting["id"]]


def test_invalid_posting_gets_a_readable_422(client):
    company = register(client)
    bad = {**VISION_NEED, "kind": "wish", "s3_area": "space", "trl": 12, "description": "short"}
    response = client.post("/api/v1/postings", json=bad, headers=company["headers"])
    assert response.status_code == 422
    detail = response.json()["detail"]
    for field in ("kind", "s3_area", "trl", "description"):
        assert field in detail


def test_another_organisation_cannot_read_or_change_a_posting(client):
    owner, stranger = register(client), register(client)
    posting = client.post("/api/v1/postings", json=VISION_NEED, headers=owner["headers"]).json()
    url = f"/api/v1/postings/{posting['id']}"
    assert client.get(url, headers=stranger["headers"]).status_code == 404
    assert client.patch(url, json={"trl": 3}, headers=stranger["headers"]).status_code == 404
    assert client.delete(url, headers=stranger["headers"]).status_code == 404
    assert client.get("/api/v1/postings", headers=stranger["headers"]).json() == []


def test_editing_the_text_bumps_the_revision_and_restarts_the_pipeline(client):
    owner = register(client)
    posting = client.post("/api/v1/postings", json=VISION_OFFER, headers=owner["headers"]).json()
    url = f"/api/v1/postings/{posting['id']}"
    same = client.patch(url, json={"trl": VISION_OFFER["trl"]}, headers=owner["headers"]).json()
    assert same["revision"] == 1
    edited = client.patch(
        url, json={"trl": 7, "keywords": ["visione", "ispezione"]}, headers=owner["headers"]
    )
    assert edited.status_code == 200
    assert edited.json()["revision"] == 2 and edited.json()["pipeline_state"] == "pending"
    blank = client.patch(url, json={"title": None}, headers=owner["headers"])
    assert blank.status_code == 422


def test_delete_closes_and_a_closed_posting_cannot_be_edited(client):
    owner = register(client)
    posting = client.post("/api/v1/postings", json=VISION_NEED, headers=owner["headers"]).json()
    url = f"/api/v1/postings/{posting['id']}"
    closed = client.delete(url, headers=owner["headers"]).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    again = client.patch(url, json={"trl": 4}, headers=owner["headers"])
    assert again.status_code == 422 and "closed" in again.json()["detail"]


def test_unknown_posting_and_suggestion_are_404(client):
    owner = register(client)
    assert client.get("/api/v1/postings/999999", headers=owner["headers"]).status_code == 404
    assert client.get("/api/v1/suggestions/999999", headers=owner["headers"]).status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "model": "ok"}
    assert "clustermatch" in client.get("/").text
    assert client.get("/openapi.json").json()["info"]["title"] == "clustermatch"


def test_concurrent_edits_each_get_their_own_revision(client):
    from concurrent.futures import ThreadPoolExecutor

    owner = register(client)
    posting = client.post("/api/v1/postings", json=VISION_OFFER, headers=owner["headers"]).json()
    url = f"/api/v1/postings/{posting['id']}"

    def edit(trl: int) -> int:
        response = client.patch(url, json={"trl": trl}, headers=owner["headers"])
        assert response.status_code == 200, response.text
        return response.json()["revision"]

    with ThreadPoolExecutor(max_workers=2) as pool:
        revisions = list(pool.map(edit, [1, 2, 3, 4, 5, 7, 8, 9]))
    assert sorted(revisions) == list(range(2, 10))
    assert client.get(url, headers=owner["headers"]).json()["revision"] == 9


def test_a_retried_post_with_its_idempotency_key_gets_the_posting_the_first_one_made(client):
    """Found by killing the API mid-request: the client's retry stored a second posting."""
    company, other = register(client), register(client)
    keyed = {**company["headers"], "Idempotency-Key": "3f1c9a2e-retry-1"}
    first = client.post("/api/v1/postings", json=VISION_NEED, headers=keyed)
    again = client.post("/api/v1/postings", json={**VISION_NEED, "title": "Changed meanwhile"}, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["title"] == VISION_NEED["title"]
    # Another user's key is its own; no key, a new posting each time; a bad key is refused.
    theirs = client.post(
        "/api/v1/postings",
        json=VISION_NEED,
        headers={**other["headers"], "Idempotency-Key": "3f1c9a2e-retry-1"},
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert (
        client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()["id"]
        != first.json()["id"]
    )
    bad = client.post(
        "/api/v1/postings", json=VISION_NEED, headers={**company["headers"], "Idempotency-Key": "x" * 101}
    )
    assert bad.status_code == 422
    mine = client.get("/api/v1/postings?mine=true", headers=company["headers"]).json()
    assert len(mine) == 2
