"""A fake Craigslist on 127.0.0.1: fixture pages, generated photos, robots.txt and faults.

The server acts like a path-prefixed mirror: ``https://<area>.craigslist.org/...`` links in the
fixture pages are served as ``<base>/<area>/...``, so tests use ``site = <base>/{area}``.
Faults are queued per path and consumed one per request.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import struct
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

PAGES = Path(__file__).parent / "pages"
_AREA_LINK = re.compile(r"https?://(?!images\.)([a-z0-9-]+)\.craigslist\.org")


def photo_bytes(name: str) -> bytes:
    """A small JPEG whose pixels depend on ``name`` (so every photo has its own sha256)."""
    digest = hashlib.sha256(name.encode()).digest()
    image = Image.new("RGB", (40, 30), tuple(digest[:3]))
    image.paste(tuple(digest[3:6]), (0, 0, 20, 15))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class FakeCraigslist:
    """State of the fixture server; tests configure it and read its request log."""

    def __init__(self):
        self.url = ""
        self.pages: dict[str, str | bytes] = {}
        self.redirects: dict[str, str] = {}
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.robots = "User-agent: *\nDisallow:\n"
        self.slow_seconds = 1.0
        self.image_latency = 0.0
        self.log: list[str] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request, as the log
        self.user_agents: list[str] = []
        self.lock = threading.Lock()

    def page(self, path: str, source: str | bytes) -> None:
        """Serve ``source`` (a file name under pages/, or the body) at ``path[?query]``."""
        self.pages[path] = source

    def fail(self, path: str, fault: str, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``path`` with ``fault``."""
        self.faults[path].extend([fault] * times)

    def requests(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [path for path in self.log if path.startswith(prefix)]

    def image_requests(self) -> list[str]:
        return self.requests("/images/")

    def _next_fault(self, path: str) -> str | None:
        with self.lock:
            for key in (path, urlsplit(path).path):
                if self.faults.get(key):
                    return self.faults[key].pop(0)
        return None


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeCraigslist/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    @property
    def site(self) -> FakeCraigslist:
        return self.server.site

    def do_GET(self):
        site = self.site
        with site.lock:
            site.log.append(self.path)
            site.arrivals.append(time.monotonic())
            site.user_agents.append(self.headers.get("User-Agent", ""))
        try:
            fault = site._next_fault(self.path)
            if fault and self._fault(fault):
                return
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to do

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/html",
              headers: dict | None = None, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, fault: str) -> bool:
        """Apply a fault; True if it answered the request."""
        kind, _, argument = fault.partition(":")
        if kind == "slow":
            time.sleep(self.site.slow_seconds)
            return False
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return True
        if kind == "status":
            headers = {"Retry-After": argument.split(",", 1)[1]} if "," in argument else {}
            self._send(int(argument.split(",")[0]), b"try later", headers=headers)
            return True
        if kind == "truncate":
            body = self._body_for(urlsplit(self.path).path)[0]
            self._send(200, body[: len(body) // 2], "image/jpeg", length=len(body))
            self.close_connection = True
            return True
        if kind == "html":
            self._send(200, b"<html><body>not a photo</body></html>")
            return True
        if kind == "block":
            self._send(200, (PAGES / "blocked.html").read_bytes())
            return True
        raise ValueError(f"unknown fault {fault!r}")

    def _body_for(self, path: str) -> tuple[bytes, str] | None:
        site = self.site
        if path.startswith("/images/"):
            time.sleep(site.image_latency)
            return photo_bytes(path.rsplit("/", 1)[1]), "image/jpeg"
        source = site.pages.get(self.path, site.pages.get(path))
        if source is None:
            return None
        html = source if isinstance(source, bytes) else (PAGES / source).read_bytes()
        area = path.strip("/").split("/")[0]
        text = _AREA_LINK.sub(lambda m: f"{site.url}/{m.group(1)}", html.decode("utf-8"))
        text = text.replace('href="/', f'href="/{area}/')
        return text.encode("utf-8"), "text/html; charset=utf-8"

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        if path == "/robots.txt":
            self._send(200, self.site.robots.encode(), "text/plain")
            return
        if path in self.site.redirects:
            self._send(301, headers={"Location": self.site.redirects[path]})
            return
        found = self._body_for(path)
        if found is None:
            self._send(404, b"not found")
            return
        self._send(200, *found)


@pytest.fixture
def fake_craigslist():
    site = FakeCraigslist()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.site = site
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


def fast_settings(site: FakeCraigslist, **overrides) -> dict:
    """Scrape settings pointing at the fixture server, with tiny delays."""
    settings = {
        "site": site.url + "/{area}",
        "images_site": site.url + "/images",
        "user_agent": "roomgrid-test/1.0 (tests)",
        "delay_seconds": 0.0,
        "timeout_seconds": 1.0,
        "max_retries": 2,
        "backoff_seconds": 0.01,
    }
    settings.update(overrides)
    return settings
