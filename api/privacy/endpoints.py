"""HTTP endpoints for an organisation's data: export it as JSON, or erase it."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response, status

from api.http.deps import CurrentUser, UowDep
from api.http.fields import DbId
from api.privacy import service
from api.privacy.schemas import AdminOrganisationDeletion, OrganisationDeletion

router = APIRouter(prefix="/organisations", tags=["privacy"])


def export_response(document: dict) -> Response:  # type: ignore[type-arg]
    """The export as a JSON file download (the page and the API give the same file)."""
    organisation_id = document["organisation"]["id"]
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="clustermatch-organisation-{organisation_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/me/export",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "All of the organisation's data."}},
)
def export_my_organisation(user: CurrentUser, uow: UowDep) -> Response:
    """Download everything the platform holds of your organisation, as its members see it."""
    return export_response(service.export_organisation(uow.session, user=user))


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_my_organisation(body: OrganisationDeletion, user: CurrentUser, uow: UowDep) -> Response:
    """Erase your organisation: postings, vectors, suggestions, notifications and every account."""
    service.delete_own_organisation(uow.session, jobs=uow.jobs, user=user, confirm=body.confirm)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{organisation_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_organisation(
    organisation_id: DbId, user: CurrentUser, uow: UowDep, body: AdminOrganisationDeletion | None = None
) -> Response:
    """An admin erases an organisation and all of its data."""
    service.delete_organisation(
        uow.session,
        jobs=uow.jobs,
        actor=user,
        organisation_id=organisation_id,
        confirm=body.confirm if body else None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
