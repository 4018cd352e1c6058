"""A real HTTP receiver on loopback for webhook tests: fails its first N requests, then accepts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from triaged.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature


@dataclass
class Received:
    event_id: str
    body: bytes
    signature: str
    valid: bool
    status: int
    host: str = ""


@dataclass
class Receiver:
    secret: str = ""
    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def unique_event_ids(self) -> set[str]:
        return {r.event_id for r in self.accepted()}


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = self.headers.get(SIGNATURE_HEADER, "")
            with receiver.lock:
                failing = len(receiver.requests) < receiver.fail_first
                valid = verify_signature(body, signature, receiver.secret)
                status = 500 if failing else (200 if valid else 400)
                receiver.requests.append(
                    Received(
                        self.headers.get(EVENT_ID_HEADER, ""),
                        body,
                        signature,
                        valid,
                        status,
                        self.headers.get("Host", ""),
                    )
                )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_receiver(receiver: Receiver, port: int = 0) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
