"""The routing policy of each taxonomy: versioned thresholds, certified, kept honest live.

One module per concern: :mod:`.model` (a version, the defaults), :mod:`.certify`
(thresholds from a model's evidence and the reviews), :mod:`.store` (reading versions and
writing new ones), :mod:`.live` (the live check and its periodic runner), :mod:`.views`
(public form, what-if); this package
re-exports what the service uses.

A policy version holds the thresholds the service routes by (``auto`` may be None: the
auto lane is closed and everything above ``review`` is flagged), the audit share, the
lane's error target with its confidence level and expected out-of-scope share, where
it came from (``training``, ``manual``, ``live``), why, and the bound behind it.

* When a model becomes active (training, retrain, rollback) a new version is certified
  from the model's held-out routing evidence (:func:`for_model`): the lowest threshold
  whose bound on the lane's error, out-of-scope inputs included, meets the target.  A
  ``manual`` auto threshold (set through the API or in the taxonomy definition) is
  kept, with the bound at it recomputed.
* Live (:func:`live_check`, after each review and periodically): audited ``auto``
  decisions (weighted by the inverse of the audit share they were drawn with) and
  reviewed ``review``/``hold`` decisions are unbiased evidence about real traffic.
  When the upper bound of the auto lane's live error since the current version exceeds
  the target (or, before ``live_min_audits`` audits, its lower bound already does),
  the threshold is raised to the lowest higher one that the live reviews certify, or
  the lane is closed; it is lowered only when the live reviews certify a lower one, or
  when they bound the traffic's out-of-scope share below the expected one and the
  model's evidence certifies a lower one at that share (:mod:`.routing_learning`).
  Each change is a ``live`` version and an ``alert.auto_lane`` webhook event.
* Changing a policy never retrains; every decision records the version it was routed by.

Several API processes may check at once: a change takes the PostgreSQL advisory lock of
the taxonomy (SQLite: the one writer), re-reads the current version and writes only if
it is still the one the check was based on.
"""

from __future__ import annotations

from triaged.routing_live import EARLY_MIN_LOOK
from triaged.services.routing_policy.live import (
    LiveStatus,
    RoutingChecker,
    live_check,
    live_status,
    start_routing_checker,
)
from triaged.services.routing_policy.model import (
    ALERT_EVENT,
    ROUTING_LOCK_KEY,
    SOURCES,
    Defaults,
    LiveConfig,
    Policy,
    legacy,
)
from triaged.services.routing_policy.reviews import Reviewed
from triaged.services.routing_policy.store import (
    MANUAL_FIELDS,
    current,
    evidence_of,
    evidence_of_model,
    for_model,
    get_version,
    reviewed_audits_since,
    set_manual,
)
from triaged.services.routing_policy.views import (
    check_thresholds,
    history,
    parse_window,
    public,
    what_if,
)

__all__ = [
    "ALERT_EVENT",
    "EARLY_MIN_LOOK",
    "MANUAL_FIELDS",
    "ROUTING_LOCK_KEY",
    "SOURCES",
    "Defaults",
    "LiveConfig",
    "LiveStatus",
    "Policy",
    "Reviewed",
    "RoutingChecker",
    "check_thresholds",
    "current",
    "evidence_of",
    "evidence_of_model",
    "for_model",
    "get_version",
    "history",
    "legacy",
    "live_check",
    "live_status",
    "parse_window",
    "public",
    "reviewed_audits_since",
    "set_manual",
    "start_routing_checker",
    "what_if",
]
