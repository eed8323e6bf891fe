"""Security headers on every response, and an OpenAPI schema that documents what is sent."""

from __future__ import annotations

from tests.helpers import register


def _assert_security_headers(response) -> None:  # type: ignore[no-untyped-def]
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_api_answers_carry_security_headers_and_are_never_cached(client):
    company = register(client)
    for response in (
        client.get("/api/v1/auth/me", headers=company["headers"]),
        client.get("/api/v1/postings/999", headers=company["headers"]),
        client.get("/api/v1/auth/me"),
        client.post("/api/v1/postings", content=b"x" * 2_000_000, headers=company["headers"]),
    ):
        _assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"
    assert [r.status_code for r in (client.get("/api/v1/auth/me"),)] == [401]


def test_pages_and_static_files_carry_security_headers(client):
    for path in ("/", "/login", "/static/app.js", "/no-such-page"):
        response = client.get(path)
        _assert_security_headers(response)
    # A visitor's page is private once a session cookie comes with it; a static file never is.
    client.cookies.set("cm_session", "anything")
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/site.css").headers.get("cache-control", "")


def test_no_page_has_inline_script_or_inline_style(client):
    for path in ("/", "/login", "/register"):
        html = client.get(path).text
        assert "<script>" not in html and "<script " not in html.replace('<script src="/static/app.js"', "")
        assert " style=" not in html and " onclick=" not in html


def test_no_page_loads_a_script_from_another_origin(client):
    # Swagger UI and ReDoc would load unpinned CDN scripts on the pages' origin: both are off.
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    schema = client.get("/openapi.json")
    assert schema.status_code == 200 and "script-src 'self';" in schema.headers["content-security-policy"]


def test_the_schema_documents_one_error_body_and_every_error_status(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["required"]) == {"detail"}
    read = spec["paths"]["/api/v1/postings/{posting_id}"]["get"]["responses"]
    for code in ("401", "403", "404", "422", "503"):
        assert read[code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    assert {"409", "429"} <= set(spec["paths"]["/api/v1/auth/register"]["post"]["responses"])
    id_param = next(p for p in spec["paths"]["/api/v1/postings/{posting_id}"]["get"]["parameters"])
    assert id_param["schema"]["maximum"] == 2**31 - 1 and id_param["schema"]["minimum"] == 1
    assert not [path for path in spec["paths"] if not path.startswith(("/api/", "/healthz", "/readyz"))]


def test_every_error_the_api_sends_has_the_documented_shape(client):
    company = register(client)
    answers = [
        client.get("/api/v1/auth/me"),  # 401
        client.get("/api/v1/postings/12345", headers=company["headers"]),  # 404
        client.get("/api/v1/no-such-route"),  # 404 from the router
        client.delete("/api/v1/auth/me", headers=company["headers"]),  # 405
        client.post("/api/v1/postings", json={"kind": "wish"}, headers=company["headers"]),  # 422
    ]
    assert [a.status_code for a in answers] == [401, 404, 404, 405, 422]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"detail", "errors"} and isinstance(body["detail"], str)
