"""Loading the demo: organisations in all 8 areas, needs and offers, a facilitator per cluster."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from api.auth.service import create_user
from api.core.jobs import JobBuffer
from api.models import User
from api.models.enums import OrganisationType, PostingKind, Role, S3Area
from api.organisations.schemas import OrganisationCreate
from api.organisations.service import create_organisation
from api.postings.schemas import PostingCreate
from api.postings.service import create_posting

DEMO_FILE = Path(__file__).parent / "demo_data.json"
DEMO_CALLS_FILE = Path(__file__).parent / "demo_calls.json"
DEMO_PASSWORD = "demo-password"
ADMIN_EMAIL = "admin@demo.clustermatch.it"


def facilitator_email(area: str) -> str:
    return f"facilitator.{area}@demo.clustermatch.it"


@dataclass
class DemoLogins:
    members: list[tuple[str, str, str]] = field(default_factory=list)  # (email, org, type)
    facilitators: list[tuple[str, str]] = field(default_factory=list)  # (email, cluster)
    admin: str = ADMIN_EMAIL
    password: str = DEMO_PASSWORD
    postings: int = 0
    calls: int = 0
    already_loaded: bool = False


def seed_demo(session: Session, *, jobs: JobBuffer) -> DemoLogins:
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    logins = DemoLogins()
    logins.facilitators = [(facilitator_email(a.value), a.value) for a in S3Area]
    logins.members = [(o["user_email"], o["name"], o["type"]) for o in data["organisations"]]
    if session.scalar(select(User.id).where(User.email == ADMIN_EMAIL)):
        logins.already_loaded = True
        return logins

    admin = create_user(session, email=ADMIN_EMAIL, password=DEMO_PASSWORD, role=Role.admin)
    for email, area in logins.facilitators:
        create_user(session, email=email, password=DEMO_PASSWORD, role=Role.facilitator, clusters=[area])
    authors: dict[str, User] = {}
    for org in data["organisations"]:
        organisation = create_organisation(
            session,
            data=OrganisationCreate(
                name=org["name"],
                type=OrganisationType(org["type"]),
                clusters=[S3Area(c) for c in org["clusters"]],
                city=org["city"],
                province=org["province"],
                contact_email=org.get("contact_email"),
            ),
        )
        authors[org["key"]] = create_user(
            session, email=org["user_email"], password=DEMO_PASSWORD, organisation=organisation
        )
    for posting in tqdm(data["postings"], desc="importing postings", unit="posting"):
        create_posting(
            session,
            jobs=jobs,
            author=authors[posting["org"]],
            data=PostingCreate(
                kind=PostingKind(posting["kind"]),
                title=posting["title"],
                description=posting["description"],
                keywords=posting["keywords"],
                s3_area=S3Area(posting["s3_area"]),
                trl=posting.get("trl"),
                language=posting.get("language"),
            ),
        )
        logins.postings += 1
    logins.calls = seed_demo_calls(session, jobs=jobs, admin=admin)
    return logins


def seed_demo_calls(session: Session, *, jobs: JobBuffer, admin: User) -> int:
    """A few realistic funding calls, their deadlines counted from today, published by the admin."""
    from datetime import timedelta

    from api.calls.schemas import CallCreate
    from api.calls.service import publish_call
    from api.models.base import utcnow

    calls = json.loads(DEMO_CALLS_FILE.read_text(encoding="utf-8"))
    for call in calls:
        body = {k: v for k, v in call.items() if k != "deadline_days"}
        body["deadline"] = utcnow() + timedelta(days=call["deadline_days"])
        publish_call(session, jobs=jobs, author=admin, data=CallCreate.model_validate(body))
    return len(calls)


def format_logins(logins: DemoLogins) -> str:
    lines = [f"Demo logins (password for all: {logins.password})", f"  admin        {logins.admin}"]
    lines += [f"  facilitator  {email}  ({cluster})" for email, cluster in logins.facilitators]
    lines += [f"  member       {email}  ({org}, {kind})" for email, org, kind in logins.members]
    return "\n".join(lines)
