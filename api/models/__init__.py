"""All ORM models, one module per table."""

from api.models.base import Base
from api.models.cluster_policy import ClusterPolicy
from api.models.embedding import Embedding
from api.models.notification import Notification
from api.models.organisation import Organisation
from api.models.posting import Posting
from api.models.suggestion import Suggestion
from api.models.user import User

__all__ = [
    "Base",
    "ClusterPolicy",
    "Embedding",
    "Notification",
    "Organisation",
    "Posting",
    "Suggestion",
    "User",
]
