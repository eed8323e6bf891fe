"""Creating organisations."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.models import Organisation
from api.organisations.schemas import OrganisationCreate


def create_organisation(session: Session, *, data: OrganisationCreate) -> Organisation:
    organisation = Organisation(
        name=data.name.strip(),
        type=data.type.value,
        clusters=sorted({c.value for c in data.clusters}),
        city=data.city.strip(),
        province=data.province.strip().upper(),
        contact_email=str(data.contact_email) if data.contact_email else None,
    )
    session.add(organisation)
    session.flush()
    return organisation
