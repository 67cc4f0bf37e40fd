"""``virtmodel serve``: the classroom page and its API over HTTP, on 127.0.0.1.

The standard library's threading HTTP server is enough for a classroom: one
static page (``static/index.html`` and ``static/app.js``, shipped as package
data, nothing from a CDN) and the JSON API of :mod:`machine.serve.api`. It
listens on the loopback address only. A bad request gets a 4xx answer with a
one-line reason; nothing a request contains can stop the server: an
unexpected error becomes a 500 answer naming it, and the next request is
served as usual.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from virtmodel.machine.serve import api

#: The only address the server listens on.
HOST: Final = "127.0.0.1"
#: The page's files: URL path -> (file in static/, content type).
STATIC: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
}
ENDPOINTS: Final[dict[str, Callable[[api.Settings], dict[str, Any]]]] = {
    "/api/run": api.run,
    "/api/explore": api.explore,
    "/api/explain": api.explain,
}


def static_file(name: str) -> bytes:
    """Return the bytes of one of the page's files."""
    return (resources.files("virtmodel.machine.serve") / "static" / name).read_bytes()


class ClassroomServer(ThreadingHTTPServer):
    """The HTTP server, holding the page's starting settings."""

    daemon_threads = True

    def __init__(self, port: int, start: Mapping[str, str]) -> None:
        #: The settings the page starts from (the CLI's machine options).
        self.start = dict(start)
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        """Return the page's address."""
        return f"http://{HOST}:{self.server_address[1]}/"


class Handler(BaseHTTPRequestHandler):
    """Answers GET for the page and the API; anything else is refused."""

    server: ClassroomServer
    server_version = "virtmodel-serve"

    def do_GET(self) -> None:
        """Serve the page, a static file or an API answer."""
        try:
            self._get()
        except api.ApiError as error:
            self._json(error.status, {"error": error.reason})
        except Exception as error:  # never let one request stop the server
            traceback.print_exc(file=sys.stderr)
            reason = f"internal error: {type(error).__name__}: {error}".splitlines()[0]
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": reason})

    def _get(self) -> None:
        url = urlsplit(self.path)
        if url.path in STATIC:
            name, kind = STATIC[url.path]
            self._send(HTTPStatus.OK, static_file(name), kind)
            return
        if url.path == "/api/options":
            self._json(HTTPStatus.OK, api.options(self.server.start))
            return
        endpoint = ENDPOINTS.get(url.path)
        if endpoint is None:
            raise api.ApiError(404, f"no such page or API: {url.path[:80]!r}")
        # Lenient parsing never raises; odd bytes become U+FFFD, which the
        # API then refuses as unprintable if they matter.
        query = parse_qs(url.query, keep_blank_values=True)
        self._json(HTTPStatus.OK, endpoint(api.Settings(query, self.server.start)))

    def _refuse(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only GET is served"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _json(self, status: int, data: object) -> None:
        body = json.dumps(data, sort_keys=True).encode()
        self._send(status, body, "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Log one line per request on stderr (the console serve runs in)."""
        sys.stderr.write(f"virtmodel serve: {self.address_string()} {format % args}\n")


def make_server(port: int, start: Mapping[str, str]) -> ClassroomServer:
    """Return a server bound to 127.0.0.1:*port* (0: any free port), not yet serving.

    Raises:
        OSError: The port cannot be bound (in use, or privileged).
    """
    return ClassroomServer(port, start)
