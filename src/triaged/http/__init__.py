"""What the two HTTP faces share (the API under ``/v1``, the web UI under ``/ui``).

:mod:`~triaged.http.deps` hands a route the app's service and the failed-sign-in
counter; :mod:`~triaged.http.throttle` is that counter.  ``triaged.api`` and
``triaged.web`` both import this package and never each other (``api.app`` mounts the
UI: the one composition point).
"""
