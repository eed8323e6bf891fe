"""The vocabularies of the domain, shared by models, schemas and the matcher."""

from __future__ import annotations

from enum import StrEnum


class S3Area(StrEnum):
    """Emilia-Romagna smart-specialisation areas; each Clust-ER cluster is one of them."""

    agrifood = "agrifood"
    mechatronics_automotive = "mechatronics_automotive"
    construction = "construction"
    health_wellbeing = "health_wellbeing"
    culture_creative = "culture_creative"
    services_innovation = "services_innovation"
    energy_sustainability = "energy_sustainability"
    urban_tourism = "urban_tourism"


class OrganisationType(StrEnum):
    company = "company"
    startup = "startup"
    research_lab = "research_lab"
    university_dept = "university_dept"
    tech_centre = "tech_centre"
    training_body = "training_body"


class Role(StrEnum):
    member = "member"
    facilitator = "facilitator"
    admin = "admin"


class PostingKind(StrEnum):
    need = "need"
    offer = "offer"

    @property
    def opposite(self) -> PostingKind:
        return PostingKind.offer if self is PostingKind.need else PostingKind.need


class PostingStatus(StrEnum):
    open = "open"
    closed = "closed"


class PipelineState(StrEnum):
    """Where a posting is in the pipeline: pending -> embedded -> matched (or failed)."""

    pending = "pending"
    embedded = "embedded"
    matched = "matched"
    failed = "failed"


class SuggestionStatus(StrEnum):
    pending_review = "pending_review"  # waiting for a facilitator of the pair's clusters
    # Clearly fits, but a party's daily budget is spent: it goes out later, best score first.
    waiting = "waiting"
    delivered = "delivered"  # both parties can see it and answer
    introduced = "introduced"  # both said they are interested: contacts exchanged
    declined = "declined"  # one party said it is not interested
    withdrawn = "withdrawn"  # one of the postings was closed or changed so it no longer matches
    rejected = "rejected"  # a facilitator of the pair's cluster judged it a bad match


class EmailFrequency(StrEnum):
    instant = "instant"
    daily = "daily"
    off = "off"


class NotificationKind(StrEnum):
    suggestion_new = "suggestion.new"
    suggestion_review = "suggestion.review"  # to facilitators: a suggestion waits for review
    suggestion_introduced = "suggestion.introduced"
    suggestion_declined = "suggestion.declined"
    suggestion_withdrawn = "suggestion.withdrawn"
