"""The parts of :class:`triaged.service.Service`, one concern per module, stacked in one line.

``core`` (settings, database, accounts, keys, the operator), ``routing`` (the versioned
routing policy), ``taxonomies`` (definitions, versions, training, evaluation), ``classify``
(the request path and the decision log) and ``operations`` (insights, metrics, drift,
webhooks, secrets, the schema).  Each part subclasses the one before, so every method sees
the ones it builds on; ``Service`` subclasses the last and adds the lifecycle.  Faces import
``triaged.service`` only, never these modules.
"""
