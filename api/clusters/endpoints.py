"""HTTP endpoints for the clusters' review policies."""

from __future__ import annotations

from fastapi import APIRouter

from api.clusters import service
from api.clusters.schemas import ReviewPolicy, ReviewPolicyUpdate
from api.http.deps import CurrentUser, ResourcesDep, UowDep
from api.models.enums import S3Area

router = APIRouter(prefix="/clusters", tags=["clusters"])


@router.get("/policies", response_model=list[ReviewPolicy])
def list_policies(user: CurrentUser, uow: UowDep, resources: ResourcesDep) -> list[ReviewPolicy]:
    default = resources.settings.review_auto_deliver_above
    thresholds = service.auto_deliver_thresholds(uow.session, default)
    return [
        ReviewPolicy(s3_area=S3Area(area), auto_deliver_above=value) for area, value in thresholds.items()
    ]


@router.put("/{s3_area}/policy", response_model=ReviewPolicy)
def set_policy(s3_area: S3Area, body: ReviewPolicyUpdate, user: CurrentUser, uow: UowDep) -> ReviewPolicy:
    policy = service.set_policy(
        uow.session, user=user, s3_area=s3_area.value, auto_deliver_above=body.auto_deliver_above
    )
    return ReviewPolicy(s3_area=s3_area, auto_deliver_above=policy.auto_deliver_above)
