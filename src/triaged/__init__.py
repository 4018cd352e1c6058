"""triaged: calibrated text classification with three-bucket routing and human review.

>>> from triaged import Classifier, Taxonomy, Label
>>> tax = Taxonomy(name="t", labels=(Label("a", "yes"), Label("b", "no")))
>>> tax.label_names
['a', 'b']
"""

from triaged.classifier import Alternative, Classifier, Neighbor, Result
from triaged.client import AsyncClient, Client
from triaged.errors import (
    Conflict,
    DatasetError,
    Forbidden,
    InvalidInput,
    ModelError,
    NotFittedError,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    TaxonomyError,
    TriagedError,
    Unauthenticated,
    ValidationFailed,
)
from triaged.routing import Bucket, RoutingPolicy
from triaged.taxonomy import Example, Label, Taxonomy, Thresholds
from triaged.webhooks.verify import verify_signature

__version__ = "0.1.0"

__all__ = [
    "Alternative",
    "AsyncClient",
    "Bucket",
    "Classifier",
    "Client",
    "Conflict",
    "DatasetError",
    "Example",
    "Forbidden",
    "InvalidInput",
    "Label",
    "ModelError",
    "Neighbor",
    "NotFittedError",
    "NotFound",
    "PayloadTooLarge",
    "QuotaExceeded",
    "RateLimited",
    "Result",
    "RoutingPolicy",
    "Taxonomy",
    "TaxonomyError",
    "Thresholds",
    "TriagedError",
    "Unauthenticated",
    "ValidationFailed",
    "__version__",
    "verify_signature",
]
