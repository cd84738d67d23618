"""A built viewer over HTTP, on this machine only (127.0.0.1): ``roomgrid serve``, and the
browser tests and benchmarks that open a map."""

from __future__ import annotations

import functools
import http.server
import os
import threading


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder's files without a log line per request (a map asks for hundreds of tiles)."""

    def log_message(self, format, *args):
        pass


def local_server(folder: str | os.PathLike, port: int = 0,
                 handler: type[QuietHandler] = QuietHandler) -> http.server.ThreadingHTTPServer:
    """A server of ``folder`` on 127.0.0.1 at ``port`` (0: any free port), not yet serving."""
    return http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(handler, directory=os.fspath(folder)))


def serve_in_background(folder: str | os.PathLike, handler: type[QuietHandler] = QuietHandler
                        ) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``folder`` from a daemon thread; returns the server (``shutdown()`` ends it) and the
    folder's URL."""
    server = local_server(folder, 0, handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
