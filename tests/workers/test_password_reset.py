"""Password reset by e-mail, end to end: API or page → worker → outbox .eml → new password."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from api.auth.tokens import token_hash
from api.models import PasswordReset
from tests.helpers import csrf_of, register


def mails_to(outbox: Path, address: str) -> list[str]:
    bodies = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            bodies.append(message.get_content())
    return bodies


def link_token(body: str) -> str:
    return re.search(r"/password-reset#([A-Za-z0-9_-]+)", body).group(1)


def test_a_reset_link_is_mailed_works_once_and_ends_every_session(pipeline, client, settings):
    account = register(client)
    email = account["user"]["email"]
    known = client.post("/api/v1/auth/password-reset", json={"email": email})
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody-here@example.it"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    pipeline.drain()

    [body] = mails_to(settings.outbox_dir, email)
    assert not mails_to(settings.outbox_dir, "nobody-here@example.it")
    token = link_token(body)
    with pipeline.sessions() as session:
        [stored] = session.scalars(select(PasswordReset)).all()
    assert stored.id == token_hash(token) and token not in stored.id  # only the hash is kept

    short = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"})
    assert short.status_code == 422
    done = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "a-brand-new-password"}
    )
    assert done.status_code == 200
    assert client.get("/api/v1/auth/me", headers=account["headers"]).status_code == 401
    again = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "yet-another-password"}
    )
    assert again.status_code == 400 and "already used" in again.json()["detail"]
    old = client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
    assert old.status_code == 401
    new = client.post("/api/v1/auth/token", json={"email": email, "password": "a-brand-new-password"})
    assert new.status_code == 200


def test_the_forgot_and_reset_pages_work_in_the_visitors_language(pipeline, client, settings):
    account = register(client)
    email = account["user"]["email"]
    login = client.get("/login")
    assert 'href="/password-forgot"' in login.text
    page = client.get("/password-forgot")
    sent = client.post("/password-forgot", data={"email": email, "csrf": csrf_of(page.text)})
    assert sent.status_code == 200 and "sta arrivando" in sent.text
    pipeline.drain()
    [body] = mails_to(settings.outbox_dir, email)
    assert "reimpostare la password" in body  # the account's language (Italian by default)

    form = client.get("/password-reset")
    assert 'name="token"' in form.text
    bad = client.post(
        "/password-reset",
        data={"token": "forged", "new_password": "a-brand-new-password", "csrf": csrf_of(form.text)},
    )
    assert bad.status_code == 400 and "non è valido" in bad.text
    done = client.post(
        "/password-reset",
        data={"token": link_token(body), "new_password": "a-brand-new-password", "csrf": csrf_of(form.text)},
    )
    assert done.status_code == 200 and "accedi con quella nuova" in done.text
    assert client.get("/api/v1/auth/me", headers=account["headers"]).status_code == 401
