"""triaged: calibrated text classification with three-bucket routing and human review.

>>> from triaged import Classifier, Taxonomy, Label
>>> tax = Taxonomy(name="t", labels=(Label("a", "yes"), Label("b", "no")))
>>> tax.label_names
['a', 'b']

The names below load on first use (PEP 562), so ``import triaged.client`` (the SDK) or
``from triaged import verify_signature`` does not load the engine or the server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    "Alternative": "triaged.types",
    "AsyncClient": "triaged.client",
    "Bucket": "triaged.types",
    "Classifier": "triaged.classifier",
    "Client": "triaged.client",
    "Conflict": "triaged.errors",
    "DatasetError": "triaged.errors",
    "Example": "triaged.taxonomy",
    "Forbidden": "triaged.errors",
    "InvalidInput": "triaged.errors",
    "Label": "triaged.taxonomy",
    "ModelError": "triaged.errors",
    "Neighbor": "triaged.classifier",
    "NotFittedError": "triaged.errors",
    "NotFound": "triaged.errors",
    "PayloadTooLarge": "triaged.errors",
    "QuotaExceeded": "triaged.errors",
    "RateLimited": "triaged.errors",
    "Result": "triaged.classifier",
    "RoutingPolicy": "triaged.routing",
    "Taxonomy": "triaged.taxonomy",
    "TaxonomyError": "triaged.errors",
    "Thresholds": "triaged.taxonomy",
    "TriagedError": "triaged.errors",
    "Unauthenticated": "triaged.errors",
    "ValidationFailed": "triaged.errors",
    "verify_signature": "triaged.signing",
}

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

if TYPE_CHECKING:
    from triaged.classifier import Classifier, Neighbor, Result
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
    from triaged.routing import RoutingPolicy
    from triaged.signing import verify_signature
    from triaged.taxonomy import Example, Label, Taxonomy, Thresholds
    from triaged.types import Alternative, Bucket


def __getattr__(name: str) -> object:  # PEP 562
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'triaged' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
