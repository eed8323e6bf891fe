"""Creating organisations and keeping their profile up to date."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.db import hold_lock
from api.core.errors import Conflict, Forbidden
from api.http.fields import is_visible
from api.models import Organisation, User
from api.organisations.schemas import OrganisationCreate


def create_organisation(session: Session, *, data: OrganisationCreate) -> Organisation:
    organisation = Organisation()
    _refuse_taken_name(session, data.name, organisation_id=None)
    _apply(organisation, data)
    session.add(organisation)
    session.flush()
    return organisation


def update_organisation(session: Session, *, user: User, data: OrganisationCreate) -> Organisation:
    """A member edits its own organisation's profile."""
    organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    if organisation is None:
        raise Forbidden("Only a member of an organisation can edit its profile.")
    _refuse_taken_name(session, data.name, organisation_id=organisation.id)
    _apply(organisation, data)
    return organisation


def name_key(name: str) -> str:
    """What two names that read alike share: compatibility forms folded (NFKC), accents and
    invisible characters dropped, case folded, spaces collapsed ("ÉTOILE  Srl\u200b" = "etoile srl")."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name))
    visible = "".join(c for c in decomposed if is_visible(c) or c.isspace())
    return " ".join(visible.split()).casefold()


def _refuse_taken_name(session: Session, name: str, *, organisation_id: int | None) -> None:
    """Counterparts learn a name at introduction: nobody may register as an existing organisation.

    Compared in Python, not SQL: neither SQLite's lower() (ASCII only) nor a collation folds
    accents and zero-width characters alike. One read of every name (a region has thousands of
    organisations, and registrations and profile edits are rare). Under a lock held to the
    commit: two registrations of one name at once would otherwise both find it free."""
    hold_lock(session, "organisation-names")
    key = name_key(name)
    names = session.execute(select(Organisation.id, Organisation.name))
    if any(found != organisation_id and name_key(other) == key for found, other in names):
        raise Conflict(
            f"An organisation named {name.strip()!r} is already registered: ask the platform's administrator "
            "to add you to it, or write your organisation's full legal name."
        )


def _apply(organisation: Organisation, data: OrganisationCreate) -> None:
    organisation.name = data.name.strip()
    organisation.type = data.type.value
    organisation.clusters = sorted({c.value for c in data.clusters})
    organisation.city = data.city.strip()
    organisation.province = data.province.strip().upper()
    organisation.country = data.country
    organisation.contact_email = str(data.contact_email) if data.contact_email else None
