"""Fitted models by definition: a process trains one taxonomy definition once.

A fit is a pure function of the taxonomy it is given (its labels, descriptions, examples,
out-of-scope texts, the texts that are no evidence, its name and version) and of the
engine and encoder this build ships: the same definition gives the same model bit for bit,
whatever the threads.  Every sign-up and every fresh start creates the bundled example
taxonomy, and a workspace may train one version again (a hold-out evaluation with one seed,
a retrain that changed nothing): this keeps the blob of the last :data:`ENTRIES` small fits
(each at most :data:`MAX_BLOB` bytes) and hands out a classifier loaded from it (loading is
milliseconds; a fit of the example is a quarter of a second of CPU).  A hit reports one
progress step (``"reused"``) instead of the fit's.

A fit is kept for the workspace that made it (``scope``): a hit is visible (its speed, its
progress step), and one shared by workspaces would tell one of them that another trained
exactly the definition it guessed.  The bundled example is public and shared by all.

Why by hand: the key is the definition's content, which no general cache computes for us,
and the values are bytes, so nothing cached can be changed by its user.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triaged.classifier import Classifier
    from triaged.taxonomy import Taxonomy

__all__ = ["ENTRIES", "MAX_BLOB", "clear", "definition_key", "fitted", "shared_keys"]

ENTRIES = 16
MAX_BLOB = 2 * 1024 * 1024

_lock = threading.Lock()
_blobs: OrderedDict[str, bytes] = OrderedDict()


def definition_key(tax: Taxonomy) -> str:
    """What a fit of ``tax`` depends on, as a digest (the engine and encoder of this
    build are the same for every fit in a process)."""
    from triaged import __version__
    from triaged.encoders import DEFAULT_ENCODER

    body = {
        "taxonomy": tax.to_dict(),
        "not_evidence": sorted(tax.not_evidence),
        "encoder": DEFAULT_ENCODER,
        "build": __version__,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


@functools.cache
def shared_keys() -> frozenset[str]:
    """The definitions every workspace may share a fit of: the bundled example taxonomy as
    sign-up and the first start create it (no thresholds of its own), at version 1."""
    from triaged.examples import example_taxonomy
    from triaged.taxonomy import Taxonomy

    data = {k: v for k, v in example_taxonomy().to_dict().items() if k != "thresholds"}
    return frozenset({definition_key(Taxonomy.from_dict({**data, "version": 1}))})


def fitted(
    tax: Taxonomy,
    fit: Callable[[], Classifier],
    on_progress: Callable[[int, int, str], None] | None = None,
    *,
    scope: str,
) -> tuple[Classifier, bytes]:
    """The model of ``tax`` and its blob: loaded from the blob of an earlier fit of the
    same definition for the same ``scope`` (a workspace id) in this process, or ``fit()``
    (and its blob kept when it is small)."""
    from triaged.classifier import Classifier

    key = definition_key(tax)
    if key not in shared_keys():
        key = f"{scope}/{key}"
    with _lock:
        blob = _blobs.get(key)
        if blob is not None:
            _blobs.move_to_end(key)
    if blob is not None:
        if on_progress is not None:
            on_progress(1, 1, "reused")
        return Classifier.from_bytes(blob), blob
    clf = fit()
    blob = clf.to_bytes()
    if len(blob) <= MAX_BLOB:
        with _lock:
            _blobs[key] = blob
            while len(_blobs) > ENTRIES:
                _blobs.popitem(last=False)
    return clf, blob


def clear() -> None:
    """Forget every kept fit."""
    with _lock:
        _blobs.clear()
