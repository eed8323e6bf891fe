"""Small HTTP helpers shared by API and end-to-end tests."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Any

import httpx

_counter = itertools.count()
PASSWORD = "a-long-password"


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms post back."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def web_login(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the login page (its CSRF token included); the redirect is not followed."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )


def sign_in_afresh(client: httpx.Client, email: str) -> None:
    """Forget whoever was signed in on this client, then sign in as `email`."""
    client.cookies.clear()
    response = web_login(client, email)
    assert response.status_code == 303, response.text


def register(
    client: httpx.Client,
    *,
    org_type: str = "company",
    clusters=("mechatronics_automotive",),
    city: str = "Modena",
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    tag = f"{next(_counter)}-{uuid.uuid4().hex[:6]}"
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": f"user-{tag}@example.it",
            "password": "a-long-password",
            "organization": {
                "name": f"Org {tag}",
                "type": org_type,
                "clusters": list(clusters),
                "city": city,
            },
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
