"""Bad input is refused at the edge with a 4xx that says what to fix (issue 8's reproductions)."""

from __future__ import annotations

import unicodedata
import uuid

import pytest

from api.http.fields import clean_text, keyword_key
from api.organisations.schemas import OrganisationCreate
from tests.helpers import register
from tests.samples import VISION_NEED


def _assert_error_body(response, status: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list)
    return body


@pytest.mark.parametrize("value", [2**31, 2**63, 2**64 + 1, 0, -1])
def test_ids_outside_the_database_range_answer_422(client, value):
    company = register(client)
    for url in (
        f"/api/v1/postings/{value}",
        f"/api/v1/suggestions/{value}",
        f"/api/v1/suggestions?posting_id={value}",
    ):
        body = _assert_error_body(client.get(url, headers=company["headers"]), 422)
        assert body["errors"][0]["type"] in ("less_than_equal", "greater_than_equal")
    patch = client.patch(f"/api/v1/postings/{value}", json={"trl": 3}, headers=company["headers"])
    _assert_error_body(patch, 422)


def test_offsets_past_the_database_range_answer_422_and_the_largest_one_works(client):
    company = register(client)
    too_far = client.get(f"/api/v1/postings?offset={2**63}", headers=company["headers"])
    assert "offset" in _assert_error_body(too_far, 422)["detail"]
    largest = client.get(f"/api/v1/postings?offset={2**31 - 1}", headers=company["headers"])
    assert largest.status_code == 200 and largest.json() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"keywords": None}, "keywords"),
        ({"language": None}, "language"),
        ({"title": None}, "title"),
        ({"title": "    "}, "title"),
        ({"s3_area": None}, "s3_area"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "9999-12-31T23:59:59-01:00"}, "expires_at"),
    ],
)
def test_patch_is_validated_like_create(client, change, field):
    owner = register(client)
    posting = client.post("/api/v1/postings", json=VISION_NEED, headers=owner["headers"]).json()
    response = client.patch(f"/api/v1/postings/{posting['id']}", json=change, headers=owner["headers"])
    body = _assert_error_body(response, 422)
    assert body["errors"][0]["loc"] == ["body", field]
    assert field in body["detail"]
    unchanged = client.get(f"/api/v1/postings/{posting['id']}", headers=owner["headers"]).json()
    assert unchanged["title"] == VISION_NEED["title"] and unchanged["revision"] == 1


def test_nan_and_infinity_answer_422_with_a_body_that_is_valid_json(client):
    member = register(client)
    headers = {**member["headers"], "content-type": "application/json"}
    for number in ("NaN", "Infinity", "-Infinity"):
        response = client.put(
            "/api/v1/clusters/agrifood/policy", content=f'{{"auto_deliver_above": {number}}}', headers=headers
        )
        body = _assert_error_body(response, 422)
        assert body["errors"][0]["loc"] == ["body", "auto_deliver_above"]
        assert "input" not in body["errors"][0]  # the NaN itself is never echoed


@pytest.mark.parametrize(
    ("raw_title", "what"),
    [
        ("Visione \\ud800 artificiale", "surrogate"),
        ("Visione \\u0000 artificiale", "control character"),
        ("Visione \\u001b[31m artificiale", "control character"),
        ("Visione\\nartificiale in linea", "line break"),
        ("\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b", "no visible characters"),
        ("\\u0301\\u0301\\u0301\\u0301\\u0301", "no visible characters"),
    ],
)
def test_texts_with_surrogates_nul_or_control_characters_answer_422(client, raw_title, what):
    company = register(client)
    body_text = (
        '{"kind": "need", "s3_area": "mechatronics_automotive", "title": "' + raw_title + '", '
        '"description": "Cerchiamo un sistema di visione artificiale per difetti superficiali in linea."}'
    )
    response = client.post(
        "/api/v1/postings",
        content=body_text.encode(),
        headers={**company["headers"], "content-type": "application/json"},
    )
    body = _assert_error_body(response, 422)
    assert body["errors"][0]["loc"] == ["body", "title"]
    assert what in body["detail"]
    assert client.get("/api/v1/postings?mine=true", headers=company["headers"]).json() == []


def test_a_description_keeps_its_line_breaks_and_comes_back_nfc(client):
    company = register(client)
    description = unicodedata.normalize(
        "NFD", "Qualità dei pezzi:\n\t- cricche\n- porosità, in linea a 2 pezzi/s."
    )
    response = client.post(
        "/api/v1/postings", json={**VISION_NEED, "description": description}, headers=company["headers"]
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == unicodedata.normalize("NFC", description)


def test_nfc_and_nfd_spellings_of_a_keyword_are_stored_once(client):
    company = register(client)
    nfc, nfd = "controllo qualità", unicodedata.normalize("NFD", "Controllo  Qualità")
    assert nfc != nfd
    response = client.post(
        "/api/v1/postings",
        json={**VISION_NEED, "keywords": [nfc, nfd, "visione"]},
        headers=company["headers"],
    )
    assert response.status_code == 201, response.text
    assert response.json()["keywords"] == ["controllo qualità", "visione"]
    patched = client.patch(
        f"/api/v1/postings/{response.json()['id']}", json={"keywords": [nfd, nfc]}, headers=company["headers"]
    )
    assert patched.json()["keywords"] == [unicodedata.normalize("NFC", "Controllo Qualità")]


def test_a_20_mb_body_answers_413_without_being_read(client):
    company = register(client)
    huge = b'{"title": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/postings", content=huge, headers={**company["headers"], "content-type": "application/json"}
    )
    body = _assert_error_body(response, 413)
    assert "larger than 1,048,576 bytes" in body["detail"]


def test_a_chunked_body_past_the_limit_answers_413_too(client):
    company = register(client)

    def chunks():  # no Content-Length: the body is counted as it streams
        yield b'{"title": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = client.post(
        "/api/v1/postings",
        content=chunks(),
        headers={**company["headers"], "content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    body = _assert_error_body(response, 413)
    assert "send a smaller one" in body["detail"]


def test_a_body_that_is_not_utf8_answers_400_saying_so(client):
    company = register(client)
    response = client.post(
        "/api/v1/postings",
        content=b'{"title": "\xff\xfe"}',
        headers={**company["headers"], "content-type": "application/json"},
    )
    assert "UTF-8" in _assert_error_body(response, 400)["detail"]


def test_clean_text_normalises_and_refuses_what_cannot_be_stored():
    assert clean_text("  Qualita\u0300 \r\n ok  ", multiline=True) == "Qualità \n ok"
    assert keyword_key("Qualita\u0300  ISO") == keyword_key("qualità iso")
    for bad in ("a\x00b", "a\ud800b", "a\x7fb", "a\u0085b"):
        with pytest.raises(ValueError, match="position 1"):
            clean_text(bad, multiline=True)
    with pytest.raises(ValueError, match="line break"):
        clean_text("one\ntwo", multiline=False)


def test_a_password_with_an_unpaired_surrogate_answers_422_not_500(client):
    response = client.post(
        "/api/v1/auth/token",
        content=b'{"email": "someone@example.it", "password": "abc\\ud800defgh"}',
        headers={"content-type": "application/json"},
    )
    assert _assert_error_body(response, 422)["errors"][0]["loc"] == ["body", "password"]


def test_a_field_the_body_does_not_have_answers_422_naming_it(client):
    company = register(client)
    made = client.post("/api/v1/postings", json=VISION_NEED, headers=company["headers"]).json()
    moved = client.patch(
        f"/api/v1/postings/{made['id']}", json={"organisation_id": 1}, headers=company["headers"]
    )
    body = _assert_error_body(moved, 422)
    assert body["errors"][0]["loc"] == ["body", "organisation_id"]


def test_true_or_false_where_a_number_is_expected_answers_422(client):
    company = register(client)
    made = client.post("/api/v1/postings", json={**VISION_NEED, "trl": True}, headers=company["headers"])
    body = _assert_error_body(made, 422)
    assert body["errors"][0]["loc"] == ["body", "trl"] and "true or false" in body["errors"][0]["msg"]
    # A real number still goes through.
    assert (
        client.post(
            "/api/v1/postings", json={**VISION_NEED, "trl": 4}, headers=company["headers"]
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("country", "status", "stored"), [("QQ", 422, None), ("de", 201, "DE"), ("IT", 201, "IT")]
)
def test_the_country_must_be_an_iso_code(client, country, status, stored):
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": f"country-{country}-{uuid.uuid4().hex[:6]}@example.it",
            "password": "a-long-password",
            "organization": {"name": f"Org {uuid.uuid4().hex[:6]}", "type": "company", "country": country},
        },
    )
    body = _assert_error_body(response, 422) if status == 422 else response.json()
    if stored is None:
        assert body["errors"][0]["loc"][-1] == "country" and "ISO 3166-1" in body["errors"][0]["msg"]
    else:
        assert response.status_code == 201, response.text
        assert OrganisationCreate(name="Org", type="company", country=country).country == stored
