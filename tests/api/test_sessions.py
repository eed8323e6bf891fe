"""Sessions, tokens, passwords and rate limits, through HTTP on the real app, Redis and database."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.auth.passwords import legacy_scrypt_hash
from api.auth.ratelimit import RateLimiter
from api.auth.service import authenticate, create_user
from api.auth.sessions import ENDED_SESSIONS_KEPT, prune_sessions
from api.auth.tokens import token_hash
from api.core.db import sessions_for, unit_of_work
from api.core.errors import Unauthorized
from api.core.settings import Settings
from api.http.app import create_app
from api.models import AuthSession, User
from api.models.enums import Role
from api.notifications.bus import publish
from tests.e2e.stack import free_port
from tests.helpers import csrf_of, register, wait_for, web_login

PASSWORD = "a-long-password"


def api_login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_admin(settings: Settings, email: str = "admin@example.it") -> None:
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        create_user(session, email=email, password=PASSWORD, role=Role.admin)


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    """The app with small rate limits switched on (the other tests run without them)."""
    limited_settings = settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "rate_limit_login_per_account": "3/minute",
            "rate_limit_login_per_address": "8/minute",
            "rate_limit_register_per_address": "2/hour",
            "rate_limit_password_reset_per_address": "2/hour",
        }
    )
    with TestClient(create_app(limited_settings)) as client:
        client.app.state.resources.limiter.reset()  # counts left by earlier tests on this Redis
        yield client


# --- logout, password change, disable: every session ends at once ----------------------------


def test_logout_ends_the_api_session_and_only_that_one(client):
    body = register(client)
    other = api_login(client, body["user"]["email"])
    assert client.get("/api/v1/auth/me", headers=body["headers"]).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=body["headers"]).status_code == 204
    gone = client.get("/api/v1/auth/me", headers=body["headers"])
    assert gone.status_code == 401 and "log in again" in gone.json()["detail"]
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200


def test_page_logout_revokes_the_cookie_on_the_server(client):
    body = register(client)
    assert web_login(client, body["user"]["email"]).status_code == 303
    cookie = client.cookies.get("cm_session")
    page = client.get("/app")
    assert page.status_code == 200
    client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    # Someone who copied the cookie before logout gets nothing with it.
    client.cookies.clear()
    client.cookies.set("cm_session", cookie)
    assert client.get("/app", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401


def test_a_password_change_ends_every_other_session_api_and_pages(client):
    body = register(client)
    email = body["user"]["email"]
    kept, other = api_login(client, email), api_login(client, email)
    assert web_login(client, email).status_code == 303
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-the-password", "new_password": "another-long-one"},
        headers=kept,
    )
    assert wrong.status_code == 403 and "current password" in wrong.json()["detail"]
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "another-long-one"},
        headers=kept,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/auth/me", headers=kept).status_code == 200
    assert client.get("/api/v1/auth/me", headers=other).status_code == 401
    assert client.get("/api/v1/auth/me", headers=body["headers"]).status_code == 401
    assert client.get("/app", follow_redirects=False).headers["location"] == "/login"
    assert client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).status_code == 401
    api_login(client, email, "another-long-one")


def test_the_profile_page_changes_the_password_and_keeps_its_own_session(client):
    body = register(client)
    email = body["user"]["email"]
    web_login(client, email)
    page = client.get("/app/profile")
    assert 'action="/app/password"' in page.text
    wrong = client.post(
        "/app/password",
        data={
            "current_password": "nope-nope-nope",
            "new_password": "another-long-one",
            "csrf": csrf_of(page.text),
        },
    )
    assert "La password attuale non è giusta" in wrong.text
    done = client.post(
        "/app/password",
        data={"current_password": PASSWORD, "new_password": "another-long-one", "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 200 and "le altre sessioni sono state chiuse" in done.text
    assert client.get("/api/v1/auth/me", headers=body["headers"]).status_code == 401
    assert client.get("/app").status_code == 200


def test_an_admin_disables_a_user_every_session_ends_and_login_is_refused(client, settings):
    body = register(client)
    email, user_id = body["user"]["email"], body["user"]["id"]
    make_admin(settings)
    admin = api_login(client, "admin@example.it")
    web_login(client, email)
    member_cookie = client.cookies.get("cm_session")
    assert client.post(f"/api/v1/admin/users/{user_id}/disable", headers=body["headers"]).status_code == 403
    disabled = client.post(f"/api/v1/admin/users/{user_id}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    assert client.get("/api/v1/auth/me", headers=body["headers"]).status_code == 401
    assert client.get("/app", follow_redirects=False).headers["location"] == "/login"
    refused = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    client.cookies.clear()
    page = web_login(client, email)
    assert page.status_code == 401 and "account è disattivato" in page.text
    # Enabling lets the account log in again; the old sessions stay ended.
    assert client.post(f"/api/v1/admin/users/{user_id}/enable", headers=admin).status_code == 200
    api_login(client, email)
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {member_cookie}"}).status_code == 401
    )


def test_the_admin_page_button_disables_a_user(client, settings):
    body = register(client)
    make_admin(settings)
    web_login(client, "admin@example.it")
    page = client.get("/admin")
    action = f"/admin/users/{body['user']['id']}/disable"
    assert action in page.text and "Disattiva" in page.text
    client.post(action, data={"csrf": csrf_of(page.text)})
    assert client.get("/api/v1/auth/me", headers=body["headers"]).status_code == 401
    assert "disattivato" in client.get("/admin").text


# --- tokens ----------------------------------------------------------------------------------


def test_tokens_are_opaque_and_only_their_hash_is_stored(client, settings):
    body = register(client)
    token = body["access_token"]
    with sessions_for(settings.resolved_database_url)() as session:
        stored = session.scalars(select(AuthSession).where(AuthSession.user_id == body["user"]["id"])).all()
    assert [s.id for s in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert stored[0].kind == "api" and stored[0].expires_at > datetime.now(UTC)
    # The hash itself opens nothing.
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {stored[0].id}"}).status_code == 401
    )


def test_signed_jwts_are_refused_with_or_without_exp(client, settings):
    body = register(client)
    claims = {"sub": str(body["user"]["id"]), "iat": datetime.now(UTC)}
    no_exp = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    with_exp = jwt.encode({**claims, "exp": datetime.now(UTC) + timedelta(hours=1)}, settings.secret_key)
    for forged in (no_exp, with_exp):
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401 and "log in again" in response.json()["detail"]


def test_an_expired_session_is_refused(client, settings):
    body = register(client)
    with unit_of_work(sessions_for(settings.resolved_database_url)) as session:
        for row in session.scalars(select(AuthSession)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get("/api/v1/auth/me", headers=body["headers"]).status_code == 401


def test_sessions_ended_a_week_ago_are_pruned_and_live_ones_kept(client, settings):
    ended = register(client)
    live = register(client)
    sessions = sessions_for(settings.resolved_database_url)
    now = datetime.now(UTC)
    with unit_of_work(sessions) as session:
        old = session.get(AuthSession, token_hash(ended["access_token"]))
        old.expires_at = now - ENDED_SESSIONS_KEPT - timedelta(minutes=1)
    with unit_of_work(sessions) as session:
        assert prune_sessions(session, now=now) == 1
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(AuthSession)) == 1
    assert client.get("/api/v1/auth/me", headers=live["headers"]).status_code == 200


def test_the_stream_takes_no_token_in_the_url(client):
    body = register(client)
    token = body["access_token"]
    refused = client.get(f"/api/v1/notifications/stream?access_token={token}")
    assert refused.status_code == 401


def test_cookie_authenticated_api_changes_need_the_pages_csrf_token(client):
    body = register(client)
    web_login(client, body["user"]["email"])
    page = client.get("/app")
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', page.text).group(1)
    assert client.get("/api/v1/auth/me").json()["id"] == body["user"]["id"]
    forged = client.post("/api/v1/auth/logout")
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


# --- CSRF before login -----------------------------------------------------------------------


def test_each_visitor_gets_its_own_login_csrf_token(settings):
    app = create_app(settings)
    with TestClient(app) as first, TestClient(app) as second:
        register(first)
        a, b = csrf_of(first.get("/login").text), csrf_of(second.get("/login").text)
        assert a != b
        assert csrf_of(first.get("/login").text) == a  # stable for one visitor
        # A token read by an attacker on their own visit does not work in the victim's browser.
        stolen = second.post("/login", data={"email": "x@example.it", "password": "x" * 9, "csrf": a})
        assert stolen.status_code == 403


# --- passwords -------------------------------------------------------------------------------


def test_an_old_scrypt_hash_logs_in_and_is_rehashed_to_argon2id(client, settings):
    body = register(client)
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        session.get(User, body["user"]["id"]).password_hash = legacy_scrypt_hash(PASSWORD, os.urandom(16))
    api_login(client, body["user"]["email"])
    with sessions() as session:
        stored = session.get(User, body["user"]["id"]).password_hash
    assert stored.startswith("$argon2id$")
    api_login(client, body["user"]["email"])


def test_new_passwords_are_argon2id(client, settings):
    body = register(client)
    with sessions_for(settings.resolved_database_url)() as session:
        assert session.get(User, body["user"]["id"]).password_hash.startswith("$argon2id$v=19$")


def test_known_and_unknown_e_mails_get_the_same_answer_in_about_the_same_time(client, settings):
    body = register(client)
    answers = {
        client.post("/api/v1/auth/token", json={"email": email, "password": "wrong-password"}).json()[
            "detail"
        ]
        for email in (body["user"]["email"], "nobody-here@example.it")
    }
    assert answers == {"Wrong e-mail or password."}
    sessions = sessions_for(settings.resolved_database_url)

    def timed(email: str) -> float:
        with sessions() as session:
            start = time.perf_counter()
            with pytest.raises(Unauthorized):
                authenticate(session, email=email, password="wrong-password")
            return time.perf_counter() - start

    # Interleaved, so a change in the machine's load affects both alike.
    pairs = [(timed(body["user"]["email"]), timed("nobody-here@example.it")) for _ in range(9)]
    known = statistics.median(k for k, _ in pairs)
    unknown = statistics.median(u for _, u in pairs)
    # Before, an unknown e-mail answered 17 times faster; both now verify one Argon2 hash.
    assert 0.4 < unknown / known < 2.5, (known, unknown)


# --- rate limits -----------------------------------------------------------------------------


def test_failed_logins_per_account_answer_429_with_retry_after(limited):
    body = register(limited)
    email = body["user"]["email"]
    for _ in range(3):
        assert (
            limited.post("/api/v1/auth/token", json={"email": email, "password": "wrong-one"}).status_code
            == 401
        )
    blocked = limited.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 60
    assert "Too many login attempts" in blocked.json()["detail"] and "seconds" in blocked.json()["detail"]


def test_logins_per_address_are_limited_and_the_login_page_says_so_in_both_languages(limited):
    for n in range(8):
        limited.post("/api/v1/auth/token", json={"email": f"guess-{n}@example.it", "password": "wrong-one"})
    page = limited.get("/login")
    it = limited.post(
        "/login", data={"email": "a@example.it", "password": "x" * 9, "csrf": csrf_of(page.text)}
    )
    assert it.status_code == 429 and "Troppi tentativi" in it.text and int(it.headers["retry-after"]) > 0
    en = limited.post(
        "/login",
        data={"email": "a@example.it", "password": "x" * 9, "csrf": csrf_of(page.text)},
        headers={"Accept-Language": "en"},
    )
    assert en.status_code == 429 and "Too many attempts" in en.text


def test_registrations_per_address_are_limited(limited):
    register(limited)
    register(limited)
    third = limited.post(
        "/api/v1/auth/register",
        json={
            "email": "third@example.it",
            "password": PASSWORD,
            "organization": {"name": "Terza", "type": "company"},
        },
    )
    assert third.status_code == 429 and "retry-after" in third.headers


def test_guesses_from_another_address_do_not_lock_the_owner_out(limited):
    email = register(limited)["user"]["email"]
    with TestClient(limited.app, client=("203.0.113.9", 4000)) as attacker:
        for _ in range(5):
            attacker.post("/api/v1/auth/token", json={"email": email, "password": "wrong-one"})
        locked = attacker.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert locked.status_code == 429
    owner = limited.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert owner.status_code == 200


def test_concurrent_guesses_cannot_slip_past_the_account_limit(limited):
    email = register(limited)["user"]["email"]
    statuses: list[int] = []

    def guess() -> None:
        answer = limited.post("/api/v1/auth/token", json={"email": email, "password": "wrong-one"})
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every attempt is counted before the password is checked: at most the limit (3) are checked.
    assert statuses.count(401) == 3 and statuses.count(429) == 7


def test_guesses_of_the_current_password_are_limited(limited):
    body = register(limited)
    change = {"current_password": "wrong-one", "new_password": "another-long-one"}
    answers = [
        limited.post("/api/v1/auth/password", json=change, headers=body["headers"]).status_code
        for _ in range(4)
    ]
    assert answers == [403, 403, 403, 429]


def test_rate_limits_fail_open_when_redis_is_down(settings, caplog):
    dead = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = RateLimiter(dead, enabled=True)
    with caplog.at_level(logging.WARNING, logger="api.auth.ratelimit"):
        assert limiter.hit("1/minute", "login-address", "1.2.3.4") is None
        assert limiter.hit("1/minute", "login-address", "1.2.3.4") is None
    assert "letting the request through" in caplog.text


# --- the secret key file ---------------------------------------------------------------------


def test_the_generated_secret_key_file_is_readable_by_its_owner_only(tmp_path):
    settings = Settings(data_dir=tmp_path, environment="test")
    key = settings.resolved_secret_key()
    path = tmp_path / "secret_key"
    assert len(key) > 40 and path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)  # written by an older version
    assert settings.resolved_secret_key() == key and path.stat().st_mode & 0o777 == 0o600


# --- no token in any URL, page or log line ---------------------------------------------------


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app on a real uvicorn (access log on, through the root logger pytest captures)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=True
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def first_stream_event(base_url: str, cookies: httpx.Cookies, user_id: int, redis_url: str) -> dict:  # type: ignore[type-arg]
    """Open the live stream with the page's cookie only, publish until one event arrives."""
    publisher = redis.Redis.from_url(redis_url)
    stop = threading.Event()

    def keep_publishing() -> None:
        while not stop.wait(0.2):
            publish(publisher, user_id=user_id, event={"id": 1, "kind": "suggestion.new", "payload": {}})

    threading.Thread(target=keep_publishing, daemon=True).start()
    try:
        with httpx.Client(base_url=base_url, cookies=cookies, timeout=httpx.Timeout(10, read=15)) as client:
            with client.stream("GET", "/api/v1/notifications/stream") as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        return json.loads(line[5:])
    finally:
        stop.set()
        publisher.close()
    raise AssertionError("the stream ended without an event")


def test_no_session_token_appears_in_pages_urls_or_log_lines(settings, caplog):
    caplog.set_level(logging.DEBUG)
    with served(settings) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        account = register(client)
        bearer = account["access_token"]
        login_page = client.get("/login")
        client.post(
            "/login",
            data={"email": account["user"]["email"], "password": PASSWORD, "csrf": csrf_of(login_page.text)},
        )
        cookie = client.cookies.get("cm_session")
        assert cookie and cookie != bearer
        pages = [login_page.text] + [
            client.get(path).text for path in ("/app", "/app/profile", "/", "/app/postings/new")
        ]
        event = first_stream_event(base_url, client.cookies, account["user"]["id"], settings.redis_url)
        assert event["kind"] == "suggestion.new"
    assert all("data-stream-token" not in html and "data-live" in html for html in pages[1:])
    lines = [record.getMessage() for record in caplog.records]
    assert any("/api/v1/notifications/stream" in line for line in lines), "the access log was not captured"
    for secret in (cookie, bearer):
        assert not any(secret in html for html in pages)
        assert not any(secret in line for line in lines)


def test_an_open_stream_ends_once_its_session_is_revoked(settings, monkeypatch):
    monkeypatch.setattr("api.notifications.endpoints.SESSION_RECHECK_SECONDS", 0.5)
    with served(settings) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        account = register(client)
        started = time.monotonic()
        with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=20)) as streamer:
            with streamer.stream(
                "GET", "/api/v1/notifications/stream", headers=account["headers"]
            ) as response:
                assert response.status_code == 200
                client.post("/api/v1/auth/logout", headers=account["headers"])
                for _ in response.iter_lines():
                    pass  # returns once the server ends the stream
        assert time.monotonic() - started < 10
