"""Descriptions of the API's fields and parameters, written once by name.

Most field names mean the same in every schema (``created_at``, ``taxonomy``, ``confidence``);
they are described here once instead of in each model.  ``"Schema.field"`` entries win over
``"field"`` ones where a name means something else in one schema.  A description given in
the model itself (``Field(description=...)``) always wins.  :mod:`triaged.api.openapi` fills
in the published document from these tables, and ``tests/api/test_openapi_docs.py`` fails on
any field, parameter, operation summary or request example still missing.
"""

from __future__ import annotations

__all__ = ["EXAMPLES", "FIELDS", "PARAMETERS"]

_WHEN = " (ISO 8601, UTC)."

FIELDS: dict[str, str] = {
    # identity and time
    "id": "Stable identifier (sorts by creation time).",
    "created_at": "When it was created" + _WHEN,
    "updated_at": "When it last changed" + _WHEN,
    "finished_at": "When it finished; null while running" + _WHEN,
    "started_at": "When it started" + _WHEN,
    "resolved_at": "When a reviewer resolved it; null until then" + _WHEN,
    "expires_at": "When it stops working" + _WHEN,
    "used_at": "When it was used; null if never" + _WHEN,
    "revoked_at": "When it was revoked; null while it works" + _WHEN,
    "archived_at": "When the taxonomy was archived; null if it is not" + _WHEN,
    "lease_expires_at": "When the reviewer's claim lapses and the item returns to the queue; "
    "null unless claimed" + _WHEN,
    "next_attempt_at": "When the next delivery attempt is due; null when none is" + _WHEN,
    "since": "Start of the window" + _WHEN,
    "until": "End of the window (exclusive)" + _WHEN,
    "reset": "When this counter starts again from zero" + _WHEN,
    "window": "The time window the figures cover.",
    # lists
    "data": "The items of this page, in the list's order.",
    "next_cursor": "Opaque; pass as `cursor` to get the next page. Null on the last page.",
    "has_more": "True when another page follows (`next_cursor` is set).",
    "items": "The review items, each with its decision.",
    "results": "One result per input text, in input order.",
    # taxonomies
    "name": "Name (unique in its scope).",
    "description": "Free text shown to people (reviewers, operators).",
    "labels": "The labels (categories) of the taxonomy.",
    "examples": "Labelled example texts.",
    "thresholds": "Confidence thresholds the taxonomy's definition sets: `auto` (at or above: "
    "handled automatically) and `review` (at or above: a quick review; below: held); each "
    "one set pins the routing policy, one not set is the policy's to choose.",
    "version": "Taxonomy version (a new one on every change of labels or examples).",
    "n_examples": "Number of labelled examples.",
    "n_out_of_scope": "Number of out-of-scope examples (texts that fit no label).",
    "archived": "Whether the taxonomy is archived (classification refused, history kept).",
    "ready": "Whether a trained model serves the taxonomy now.",
    "model": "The model serving the taxonomy now; null before the first training finishes.",
    "training": "The newest training job (running, finished or failed); null if none.",
    "taxonomy": "Name of the taxonomy.",
    "taxonomy_version": "Taxonomy version the model was trained on.",
    "model_version": "Version string of the model that answered (content hash).",
    "model_id": "Identifier of a model version (see GET /v1/taxonomies/{name}/models).",
    "mode": "How the model was trained: `zero_shot` (names and descriptions only) or "
    "`few_shot`/`supervised` (from examples).",
    "active": "Whether this model version serves the taxonomy now.",
    "trigger": "What started this training: `api`, `cli`, `auto` (after enough reviews) or null.",
    "n_review_examples": "Reviewed decisions used as training examples.",
    "evaluation": "Figures measured on held-out reviewed decisions when it was trained "
    "(accuracy, calibration, per-bucket error); null if none were held out.",
    "holdout": "Share of the examples held out for evaluation when no test set is given.",
    "seed": "Seed of the random split (same seed, same split).",
    "wait": "Train in this request and answer when done (true), or in the background (false).",
    # classification
    "text": "The text that was classified.",
    "label": "A label name.",
    "confidence": "Calibrated probability that `label` is right, in [0, 1].",
    "bucket": "Routing bucket: `auto` (act on it), `review` (act, a person checks) or `hold` "
    "(a person decides first).",
    "alternatives": "The runner-up labels with their share of the confidence left over "
    "(never above `confidence`; top label excluded), best first.",
    "external_id": "The caller's own id for the text (echoed back, filterable).",
    "metadata": "The caller's own JSON object (echoed back, never interpreted).",
    "key_id": "Id of the API key that made the request.",
    "latency_ms": "Server time spent per text, in milliseconds.",
    "final_label": "The label a reviewer settled on; null until reviewed.",
    "final_source": "Who set `final_label`: `review` or `auto`.",
    # review
    "decision_id": "Id of the decision the item reviews.",
    "queue": "Review queue: `hold` (held decisions), `review` (quick checks) or `audit` (a "
    "random sample of auto decisions).",
    "new_label": "Name of the proposed new category (action `new_category`).",
    "note": "Free-text comment, kept with the item's history.",
    # keys, workspaces, usage
    "role": "Role of the key: `admin`, `reviewer` or `client`.",
    "prefix": "First characters of the key, to recognise it (the secret is never shown again).",
    "workspace": "Workspace the key belongs to.",
    "plan": "Plan of the workspace.",
    "period": "The calendar month counted (YYYY-MM).",
    "used": "Requests counted in the period.",
    "remaining": "Requests left in the period; null when unlimited.",
    "monthly_quota": "Classify requests per calendar month; null when unlimited.",
    "per_minute": "Classify requests per minute; null when unlimited.",
    "contact_email": "Email address of the workspace's contact.",
    "email": "Email address.",
    # webhooks
    "url": "The endpoint's URL (https; a public address).",
    "events": "Event types sent to the endpoint.",
    "endpoint_id": "Id of the webhook endpoint.",
    "event_id": "Id of the event delivered.",
    "event_type": "Type of the event delivered.",
    "attempts": "Delivery attempts made so far.",
    "attempt": "Number of the attempt (1 first).",
    "last_status_code": "HTTP status of the last attempt; null when it got no answer.",
    "last_error": "Error of the last attempt (timeout, connection refused ...); null if none.",
    "status_code": "HTTP status the endpoint answered; null when it did not answer.",
    "duration_ms": "How long the attempt took, in milliseconds.",
    "response_excerpt": "The first bytes of the endpoint's answer.",
    "error": "What went wrong; null when nothing did.",
    # routing
    "auto": "Auto threshold: decisions at or above it go to the auto bucket; null: the auto "
    "lane is closed.",
    "review": "Review threshold: decisions at or above it (and below auto) go to review; "
    "below it they are held.",
    "audit_rate": "Share of auto decisions sampled into the audit queue.",
    "auto_error_target": "Error rate the auto lane must stay under.",
    "confidence_level": "Confidence level of the bound on the auto lane's error.",
    "expected_out_of_scope": "Share of traffic expected to fit no label.",
    "source": "Where the threshold comes from: `training` (certified from held-out evidence), "
    "`manual` (pinned by an admin) or `live` (moved by audited live traffic).",
    "reason": "Why the policy is what it is, in words.",
    "auto_lane_open": "Whether any decision can be routed to auto now.",
    "bound": "The upper bound of the auto lane's error and the evidence behind it.",
    "basis": "Evidence behind the bound: `training` (held-out items) or `live` (audits).",
    "estimate": "Point estimate of the error rate; null without evidence.",
    "lower": "Lower end of the confidence interval.",
    "upper": "Upper end of the confidence interval.",
    "n": "Number of items the figure rests on.",
    "errors": "Wrong decisions among them.",
    "effective_n": "Effective sample size after importance weighting.",
    "n_reviewed": "Reviewed decisions the estimate rests on.",
    "n_decisions": "Decisions in the window.",
    "shares": "Share of decisions per bucket.",
    "hold": "Share held for a person.",
    "auto_error": "Estimated error of the auto lane with its interval.",
    # jobs (issue 11) and sign-up (issue 14): common names
    "state": "State of the job.",
    "done": "Items finished so far.",
    "total": "Items in all.",
    "rate": "Items per second so far.",
    "eta_seconds": "Estimated seconds to completion; null when unknown (and while stalled).",
    "stalled": "True when the running job has recorded no progress or heartbeat for longer "
    "than the server's TRIAGED_JOB_STALLED_SECONDS (its worker died or hangs; a live worker "
    "retries it); false again once a run resumes it.",
    "stalled_since": "While stalled: the job's last progress or heartbeat; else null.",
    "format": "Format of the input or output.",
    "options": "Options the job was started with.",
    "log": "Recent log lines of the job.",
    "sign_in_url": "Where to sign in.",
    "usage_url": "Where to see usage.",
}

# names that mean something else in one schema
FIELDS.update(
    {
        "ClaimRequest.limit": "How many items to claim at most.",
        "ClaimRequest.taxonomy": "Only items of this taxonomy (default: any).",
        "ClaimRequest.queue": "Only this queue (default: hold first, then review, then audit).",
        "UsageOut.limit": "Monthly quota of the plan; null when unlimited.",
        "MinuteUsage.limit": "Requests per minute of the plan; null when unlimited.",
        "MinuteUsage.used": "Requests counted this minute.",
        "UsageOut.per_minute": "This minute's count, limit and reset.",
        "ThresholdsIn.auto": "Auto threshold in [0, 1]; omit to let the service certify one.",
        "ThresholdsIn.review": "Review threshold in [0, 1]; below it decisions are held.",
        "RoutingUpdate.auto": "Auto threshold to pin; null recomputes it from the evidence.",
        "SharesOut.auto": "Share of decisions routed to auto.",
        "SharesOut.review": "Share of decisions routed to review.",
        "WhatIfOut.auto": "Auto threshold of the what-if (null: lane closed).",
        "WhatIfOut.review": "Review threshold of the what-if.",
        "RoutingOut.taxonomy": "Name of the taxonomy.",
        "LabelIn.name": "Label name (unique in the taxonomy).",
        "LabelOut.name": "Label name.",
        "LabelIn.description": "What the label means; shown to reviewers and used zero-shot.",
        "LabelOut.description": "What the label means.",
        "LabelIn.examples": "Example texts of this label.",
        "LabelUpdateIn.name": "Label name (unique in the taxonomy).",
        "LabelUpdateIn.description": "What the label means; shown to reviewers and used "
        "zero-shot (not given: it keeps its description, or that of the label it renames).",
        "LabelUpdateIn.examples": "Example texts of this label (not given: it keeps its "
        "examples, or those of the label it renames).",
        "LabelOut.examples": "Example texts of this label (with include_examples=true).",
        "LabelOut.n_examples": "Number of examples of this label.",
        "TaxonomyCreate.examples": "Labelled examples as {text, label} objects (with `oos` "
        "for texts that fit no label).",
        "TaxonomyUpdate.examples": "Examples to add, as {text, label} objects (the labels' own "
        "examples are replaced by giving `labels` with `examples`).",
        "TaxonomyCreate.description": "What the taxonomy is for.",
        "TaxonomyUpdate.description": "New description of the taxonomy.",
        "TaxonomyUpdate.labels": "The new set of labels (replaces the old one).",
        "TaxonomyUpdate.thresholds": "New definition thresholds.",
        "TaxonomyOut.description": "What the taxonomy is for.",
        "TaxonomyOut.status": "State of the taxonomy's model: `ready`, `training`, `failed`.",
        "TaxonomyOut.thresholds": "Thresholds the taxonomy's definition sets (null: not set).",
        "ModelOut.status": "State of the training job: `training`, `ready` or `failed`.",
        "ModelOut.n_examples": "Examples it was trained on.",
        "ModelOut.error": "Why training failed; null unless it did.",
        "ModelOut.progress": "How far the training is while `training` (null before its "
        "first report and once it is `ready` or `failed`).",
        "TrainingProgressOut.done": "Steps of the fit done so far.",
        "TrainingProgressOut.total": "Steps of the fit in all (known from its start).",
        "TrainingProgressOut.stage": "What the last step done was: `embedding`, `final fit`, "
        "`held-out fits`, `calibration` (or `zero-shot`); `reused` when this process had fitted "
        "the same definition before and loaded that fit.",
        "TrainingProgressOut.fraction": "Share of the steps done, in [0, 1].",
        "TrainingProgressOut.eta_seconds": "Estimated seconds to the end at the rate of the "
        "steps so far; null until a step is done.",
        "TrainingProgressOut.updated_at": "When the training last wrote its progress (at most "
        "once a second)" + _WHEN,
        "VersionOut.n_examples": "Examples in that version.",
        "ExampleIn.text": "The example text.",
        "ExampleIn.label": "Its label (`oos`: fits no label).",
        "ResolveRequest.label": "The right label (action `correct`).",
        "ReviewItemOut.status": "State of the item: `pending`, `claimed`, `resolved` or "
        "`released`.",
        "ReviewItemOut.label": "The model's label.",
        "ReviewItemOut.text": "The text to review.",
        "ReviewItemOut.confidence": "The model's calibrated confidence in its label.",
        "ReviewItemOut.taxonomy": "Name of the taxonomy.",
        "DeliveryOut.status": "State of the delivery: pending, delivering, delivered, failed "
        "or cancelled.",
        "AttemptOut.error": "Why the attempt failed; null if it did not.",
        "AttemptOut.started_at": "When the attempt started" + _WHEN,
        "KeyCreate.name": "A name to recognise the key by.",
        "KeyOut.name": "The key's name.",
        "KeyCreated.name": "The key's name.",
        "KeyCreate.role": "Role of the new key: `admin`, `reviewer` or `client`.",
        "PlanOut.name": "Name of the plan.",
        "PlanOut.description": "What the plan includes.",
        "WorkspaceOut.name": "Name of the workspace.",
        "WorkspaceOut.plan": "The workspace's plan and its limits.",
        "ClassifyRequest.taxonomy": "Name of the taxonomy to classify with.",
        "BatchRequest.taxonomy": "Name of the taxonomy to classify with.",
        "ClassifyResponse.label": "The most likely label.",
        "DecisionOut.label": "The model's label.",
        "AlternativeOut.label": "A runner-up label.",
        "AlternativeOut.confidence": "Its share of the confidence left over by the top label.",
        "ReviewAlternativeOut.label": "A runner-up label.",
        "ReviewAlternativeOut.confidence": "Its share of the confidence left over by the top "
        "label.",
        "ReviewAlternativeOut.in_set": "Whether it is in the decision's prediction set (the "
        "labels the model cannot tell apart at the taxonomy's coverage); null when the model "
        "has no prediction sets.",
        "RollbackRequest.model_id": "The ready model version to make active.",
        "RoutingOut.review": "Review threshold: below it decisions are held.",
        "RoutingOut.model_id": "The model version the policy was certified for.",
        "RoutingOut.version": "Routing-policy version (0: none recorded yet).",
        "RoutingOut.confidence_level": "Confidence level of the bound.",
        "AutoErrorOut.confidence_level": "Confidence level of the interval.",
        "LiveOut.since": "Start of the live evidence" + _WHEN,
        "InviteOut.used": "Whether the invite was used.",
        "InviteCreated.used": "Whether the invite was used.",
        "VerifyOut.status": "State of the workspace after verification.",
        "ErrorOut.error": "The error: stable code, message, details and request id.",
        "JobOut.error": "Why the job failed; null unless it did.",
        "JobOut.attempts": "How many times the job was started.",
        "JobOut.taxonomy": "Name of the taxonomy.",
    }
)

PARAMETERS: dict[str, str] = {
    "name": "Name of the taxonomy.",
    "version": "A taxonomy version (1 first).",
    "model_id": "Id of a model version.",
    "decision_id": "Id of a decision.",
    "item_id": "Id of a review item.",
    "key_id": "Id of an API key.",
    "webhook_id": "Id of a webhook endpoint.",
    "delivery_id": "Id of a delivery.",
    "job_id": "Id of a job.",
    "taxonomy": "Only this taxonomy (default: all of the workspace's).",
    "queue": "Only this queue: `hold`, `review` or `audit`.",
    "train": "Retrain after adding the examples (false: only store them).",
    "days": "Days of history to count (1-366).",
    "interval": "Period of each point of the series: hour, day or week.",
    "alpha": "Significance level of the drift test before the Bonferroni correction.",
    "per_label": "Also test each label's share.",
    "limit": "Items per page.",
    "cursor": "Opaque `next_cursor` of the previous page.",
    "token": "The token from the emailed link.",
}

#: An example of every JSON request body, by schema name (a model's own examples win).
EXAMPLES: dict[str, dict[str, object]] = {
    "TaxonomyCreate": {
        "name": "support",
        "description": "Customer support tickets",
        "labels": [
            {"name": "billing", "description": "Charges, refunds, invoices"},
            {"name": "bug", "description": "Something in the app does not work"},
        ],
        "examples": [
            {"text": "I was charged twice this month", "label": "billing"},
            {"text": "The app crashes when I open settings", "label": "bug"},
        ],
    },
    "LabelMerge": {"into": "billing"},
    "LabelRename": {"name": "defect", "description": "Something in the app does not work"},
    "TaxonomyUpdate": {
        "labels": [
            {"name": "billing", "description": "Charges, refunds, invoices"},
            {"name": "bug", "description": "Something in the app does not work"},
            {"name": "account", "description": "Sign-in, email, profile"},
        ]
    },
    "ExamplesIn": {"examples": [{"text": "Where is my refund?", "label": "billing"}]},
    "EraseIn": {"external_ids": ["ticket-4711"]},
    "EvaluateRequest": {"holdout": 0.2, "seed": 0},
    "ClassifyRequest": {
        "taxonomy": "support",
        "text": "I was charged twice for my subscription",
        "external_id": "ticket-4711",
        "metadata": {"channel": "email"},
    },
    "BatchRequest": {
        "taxonomy": "support",
        "texts": ["I was charged twice", {"text": "The app crashes", "external_id": "t-2"}],
    },
    "KeyCreate": {"role": "reviewer", "name": "Alice (support team)"},
    "ClaimRequest": {"taxonomy": "support", "limit": 5},
    "ResolveRequest": {"action": "correct", "label": "billing", "note": "refund, not a bug"},
    "RetrainRequest": {"wait": False},
    "RollbackRequest": {"model_id": "mdl_01J8Z3Q4S5T6V7W8X9Y0Z1A2B3"},
    "RoutingUpdate": {"auto_error_target": 0.02, "audit_rate": 0.05},
    "WebhookCreate": {
        "url": "https://hooks.example.com/triaged",
        "events": ["decision.resolved", "alert.drift"],
        "description": "ticketing system",
    },
    "WebhookUpdate": {"events": ["decision.resolved", "decision.corrected"]},
    "RotateSecret": {"overlap_hours": 24},
    "SignupIn": {"name": "acme", "email": "ops@acme.example"},
    "InviteIn": {"note": "for the Acme pilot", "expires_in_hours": 72},
    "VerifyIn": {"token": "the token of the emailed link"},
}
