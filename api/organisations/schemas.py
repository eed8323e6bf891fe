"""Organisation bodies."""

from __future__ import annotations

import pycountry
from pydantic import BaseModel, EmailStr, Field, field_validator

from api.http.fields import CleanLine, RequestBody
from api.models.enums import OrganisationType, S3Area


class OrganisationCreate(RequestBody):
    name: CleanLine = Field(min_length=2, max_length=200)
    type: OrganisationType
    clusters: list[S3Area] = Field(default_factory=list, max_length=8)
    city: CleanLine = Field("", max_length=100)
    province: CleanLine = Field("", max_length=4)
    country: str = Field(
        "IT",
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166-1 alpha-2 code of the country the organisation is established in (IT, DE, ...).",
    )
    contact_email: EmailStr | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, code: str) -> str:
        # Two letters are not yet a country: "QQ" would count as one more nation in a call's
        # consortium rule (min_countries).
        code = code.upper()
        if pycountry.countries.get(alpha_2=code) is None:
            raise ValueError(
                f"{code!r} is not an ISO 3166-1 country code: use two letters such as IT, DE or FR"
            )
        return code


class OrganisationRead(BaseModel):
    id: int
    name: str
    type: str
    clusters: list[str]
    city: str
    province: str
    country: str

    model_config = {"from_attributes": True}
