"""The concerns behind :class:`triaged.service.Service`, one module each.

``ids`` (identifiers, clock), ``plans``, ``keys`` (workspaces, API keys,
authentication), ``quota``, ``taxonomies``, ``examples_io`` (JSON/JSONL/CSV
uploads), ``training`` (model versions and the classifier cache), ``decisions``
and ``idempotency``.  The API, CLI and SDK only ever call the façade.
"""
