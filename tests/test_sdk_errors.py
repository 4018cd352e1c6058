"""The SDK raises its own exceptions when it gets no HTTP answer: a refused connection is
``ConnectFailed``, a server that does not answer in time ``RequestTimeout`` (both
``TransportError``, a ``TriagedError``), with the httpx exception as ``__cause__``."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.servicekit import free_port
from triaged.client import AsyncClient, Client
from triaged.errors import ConnectFailed, RequestTimeout, TransportError, TriagedError


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_refused_connection_is_connect_failed() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = Client(url, api_key="tri_x", max_retries=1, backoff=0.01)
    with client, pytest.raises(ConnectFailed) as info:
        client.usage()
    exc = info.value
    assert isinstance(exc, TransportError) and isinstance(exc, TriagedError)
    assert isinstance(exc.__cause__, httpx.ConnectError)
    assert exc.code == "connect_failed" and exc.details["url"] == f"{url}/v1/usage"
    assert "is the server running" in exc.message


def test_no_answer_in_time_is_request_timeout(silent_server: str) -> None:
    client = Client(silent_server, api_key="tri_x", timeout=0.3, max_retries=0)
    with client, pytest.raises(RequestTimeout) as info:
        client.classify("hello", "support")
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert info.value.code == "timeout" and info.value.status == 504


@pytest.mark.anyio
async def test_the_async_client_raises_the_same() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncClient(url, api_key="tri_x", max_retries=0) as client:
        with pytest.raises(ConnectFailed):
            await client.taxonomies()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def other_server() -> Iterator[str]:
    """A real HTTP server that is not triaged: 200 with a plain-text page, or JSON of
    another shape under /json."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            json_page = self.path.startswith("/json")
            body = b'{"hello": "world"}' if json_page else b"It works!"
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if json_page else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_answer_that_is_not_triageds_json_is_a_transport_error(other_server: str) -> None:
    """Pointed at another server, the SDK says so (it raised a bare JSONDecodeError or
    KeyError from its own code)."""
    for base in (other_server, f"{other_server}/json"):
        with Client(base, api_key="tri_x", max_retries=0) as client:
            with pytest.raises(TransportError) as info:
                client.usage()
            assert "not triaged's JSON" in info.value.message
            assert info.value.details["status"] == 200


def test_a_key_read_from_a_file_is_stripped_and_a_broken_key_is_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``open(...).read()`` leaves a line break: httpx refused the header with the whole key
    in its message (so in logs and tracebacks); a non-ASCII key raised UnicodeEncodeError."""
    secret = "tri_" + "s3cret" * 4
    with Client("http://127.0.0.1:9", api_key=secret + "\n") as client:
        assert client._headers["Authorization"] == f"Bearer {secret}"
    for bad in (secret[:10] + "\n" + secret[10:], secret + "é", "tri_two words"):
        with pytest.raises(ValueError) as info:
            Client("http://127.0.0.1:9", api_key=bad)
        assert secret[:8] not in str(info.value) and "not shown" in str(info.value)
        with pytest.raises(ValueError):
            AsyncClient("http://127.0.0.1:9", api_key=bad)
    monkeypatch.setenv("TRIAGED_API_KEY", secret + "\r\n")
    with Client("http://127.0.0.1:9") as client:
        assert client._headers["Authorization"] == f"Bearer {secret}"


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("decisions", {"buckett": "auto"}),
        ("review_items", {"labell": "x"}),
        ("drift", {"alpah": 0.1}),
    ],
)
def test_a_misspelt_filter_is_refused_before_any_request(call: str, kwargs: dict) -> None:
    """Filters went out as query parameters the server ignores: ``decisions(buckett=...)``
    answered every bucket.  Nothing listens on the URL: the error comes before a request."""
    with Client(f"http://127.0.0.1:{free_port()}", api_key="tri_x") as client:
        with pytest.raises(TypeError, match=next(iter(kwargs))):
            getattr(client, call)(**kwargs)
        with pytest.raises(TypeError):
            list(client.iter_decisions(taxnomy="x"))


def test_a_file_name_given_as_text_is_not_uploaded_as_the_content(tmp_path) -> None:
    """``submit_job("support", "tickets.csv")`` uploaded the 11 characters "tickets.csv"
    (text is content) and failed on the server with "line 1 is not JSON"."""
    from triaged.client.jobs import upload_bytes

    csv_file = tmp_path / "tickets.csv"
    csv_file.write_text("text\nrefund please\n")
    for name in ("tickets.csv", str(csv_file), f"  {csv_file}\n", "export.jsonl"):
        with pytest.raises(ValueError, match=r"pathlib\.Path"):
            upload_bytes(name)
    assert upload_bytes(csv_file) == (b"text\nrefund please\n", "csv")
    line = '{"text": "see the attached report.csv"}'
    assert upload_bytes(line) == (line.encode(), None)
    assert upload_bytes("text\nfile.csv\n") == (b"text\nfile.csv\n", None)
