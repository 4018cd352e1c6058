"""A new model version reaches every API process at once (PostgreSQL LISTEN/NOTIFY).

Activating a model (training, rollback) or writing a routing-policy version sends
``NOTIFY triaged_models`` in that transaction, so the notice goes out exactly when
the change commits.  Each API process listens on its own connection and loads the
announced model and its routing policy into its caches before a request needs them.
The fallback is the version check every classify call already makes: it reads
the taxonomy row, whose ``active_model_id`` and ``routing_version`` name what to
serve, so a process that missed a notice (its listener reconnecting) serves the
new version on its next request anyway, only paying the load there.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from triaged.services import taxonomies as taxo
from triaged.services.jobs import CHANNEL
from triaged.services.jobs_worker import backoff_pause, conninfo

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = ["ModelListener", "start_model_listener"]

log = logging.getLogger("triaged.notify")


#: the longest pause between two tries to listen again
MAX_PAUSE_S = 10.0


class ModelListener:
    """A thread holding one LISTEN connection; reconnects after errors."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="triaged-notify", daemon=True)
        self.loaded = 0

    def start(self) -> ModelListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _loop(self) -> None:
        import psycopg

        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo(self.svc.db.url), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._load(note.payload)
            except Exception as exc:  # the database restarted: listen again shortly
                # one traceback, then one line per try, the pause doubling to 10 s (a
                # 10-s outage wrote 14 tracebacks); requests check the version meanwhile
                failures += 1
                pause = backoff_pause(failures, MAX_PAUSE_S)
                log.warning(
                    "model listener lost its connection; reconnecting in %.0f s%s",
                    pause,
                    "" if failures == 1 else f" ({type(exc).__name__}: {exc})".rstrip(),
                    exc_info=failures == 1,
                )
                self._stop.wait(pause)

    def _load(self, payload: str) -> None:
        try:
            note: dict[str, Any] = json.loads(payload)
            with self.svc.db.read() as conn:
                record = taxo.get_record_by_id(conn, note["w"], note["t"])
            if record.active_model_id is None or note["m"] not in (None, record.active_model_id):
                return  # superseded already
            clf = self.svc.classifiers.get(self.svc.db, record)
            self.svc.jobs_policy(record, clf)
            self.loaded += 1
        except Exception:  # the next request loads it instead
            log.exception("could not preload announced model %s", payload)


def start_model_listener(svc: Service) -> ModelListener:
    return ModelListener(svc).start()
