"""Request bodies of the privacy endpoints."""

from __future__ import annotations

from pydantic import Field

from api.http.fields import CleanLine, RequestBody


class OrganisationDeletion(RequestBody):
    confirm: CleanLine = Field(
        max_length=200,
        description="The organisation's exact name: deleting it erases all of its data, for good.",
    )


class AdminOrganisationDeletion(RequestBody):
    confirm: CleanLine | None = Field(
        None, max_length=200, description="Members only: the organisation's exact name (admins need none)."
    )
