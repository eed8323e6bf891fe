"""Creating members and postings through the services, for tests below the HTTP layer."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.service import create_user
from api.core.jobs import JobBuffer
from api.models import Posting, Suggestion, User
from api.models.enums import OrganisationType
from api.organisations.schemas import OrganisationCreate
from api.organisations.service import create_organisation
from api.postings.schemas import PostingCreate
from api.postings.service import create_posting


def member(session: Session, org_type: str = "company") -> User:
    tag = uuid.uuid4().hex[:8]
    organisation = create_organisation(
        session, data=OrganisationCreate(name=f"Org {tag}", type=OrganisationType(org_type), city="Bologna")
    )
    return create_user(
        session, email=f"{tag}@example.it", password="a-long-password", organisation=organisation
    )


def owner_of(session: Session, posting_id: int) -> User:
    """A user of the organisation that published the posting."""
    organisation_id = session.get(Posting, posting_id).organisation_id
    return session.scalar(select(User).where(User.organisation_id == organisation_id).limit(1))


def posting(session: Session, jobs: JobBuffer, author: User, body: dict) -> Posting:  # type: ignore[type-arg]
    posting, _ = create_posting(session, jobs=jobs, author=author, data=PostingCreate(**body))
    return posting


def suggestion(
    session: Session, need_id: int, offer_id: int, *, status: str = "delivered", score: float = 0.8
) -> Suggestion:
    """A suggestion written directly, as if the matcher had made it."""
    made = Suggestion(
        need_id=need_id,
        offer_id=offer_id,
        score=score,
        status=status,
        score_parts={"semantic": 0.7},
        explanation={"summary": {"en": f"Score {score:.2f}", "it": f"Punteggio {score:.2f}"}, "reasons": []},
    )
    session.add(made)
    session.flush()
    return made
