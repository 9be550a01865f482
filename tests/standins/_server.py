"""Run an HTTP server on 127.0.0.1 in a background thread and stop it without leaks.

``stop()`` ends the accept loop, closes idle keep-alive connections and joins every
handler thread, so a test leaves no threads or ports behind.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
_PIECE = 64 * 1024


class ConnectionTrackingMixin:
    """Server mixin: joinable handler threads and a list of open client connections."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, *args, **kwargs) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def get_request(self):
        conn, address = super().get_request()
        with self._connections_lock:
            self._connections.add(conn)
        return conn, address

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client went away (or we cut it off on purpose)
        super().handle_error(request, client_address)


class BackgroundServer:
    """Serve ``server`` from a thread until :meth:`stop`."""

    def __init__(self, server: socketserver.BaseServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()  # joins the handler threads
        self._thread.join()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]

    def form(self) -> dict[str, list[str]]:
        """URL-encoded form fields from the body, merged over the query string."""
        fields = dict(self.query)
        fields.update(parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        return fields


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # A cut reply: Content-Length says this many bytes (more than the body), and the connection is closed after
    # the body, as when a download breaks off. None: the body's length.
    declared_length: int | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        pass

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, url.path, parse_qs(url.query, keep_blank_values=True), body,
                          {k.lower(): v for k, v in self.headers.items()})
        reply = self.server.app(request)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        cut = reply.declared_length is not None
        self.send_header("Content-Length", str(reply.declared_length if cut else len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            for start in range(0, len(reply.body), _PIECE):  # streamed: a client reads while it is sent
                self.wfile.write(reply.body[start:start + _PIECE])
        if cut:
            self.wfile.flush()
            self.close_connection = True


class _HttpServer(ConnectionTrackingMixin, ThreadingHTTPServer):
    app: Callable[[Request], Reply]


def serve(app: Callable[[Request], Reply], name: str, port: int = 0) -> BackgroundServer:
    """Serve ``app`` (a function from :class:`Request` to :class:`Reply`) on 127.0.0.1."""
    server = _HttpServer((HOST, port), _Handler)
    server.app = app
    return BackgroundServer(server, name)
