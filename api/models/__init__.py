"""All ORM models, one module per table."""

from api.models.audit_event import AuditEvent
from api.models.auth_session import AuthSession
from api.models.base import Base
from api.models.call import Call
from api.models.call_fit import CallFit
from api.models.call_reminder import CallReminder
from api.models.cluster_policy import ClusterPolicy
from api.models.consortium import Consortium
from api.models.consortium_member import ConsortiumMember
from api.models.delivery import Delivery
from api.models.embedding import Embedding
from api.models.embedding_tombstone import EmbeddingTombstone
from api.models.notification import Notification
from api.models.organisation import Organisation
from api.models.password_reset import PasswordReset
from api.models.posting import Posting
from api.models.request_key import RequestKey
from api.models.suggestion import Suggestion
from api.models.user import User

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Base",
    "Call",
    "CallFit",
    "CallReminder",
    "ClusterPolicy",
    "Consortium",
    "ConsortiumMember",
    "Delivery",
    "Embedding",
    "EmbeddingTombstone",
    "Notification",
    "Organisation",
    "PasswordReset",
    "Posting",
    "RequestKey",
    "Suggestion",
    "User",
]
