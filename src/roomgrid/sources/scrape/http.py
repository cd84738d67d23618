"""A polite HTTP client: identifies itself, honours robots.txt, paces and retries requests.

Every request goes through :meth:`PoliteClient.get`, which

- checks ``robots.txt`` of the host (fetched once per host, ``Crawl-delay`` honoured),
- waits so that requests to one host are at least ``delay_seconds`` apart,
- follows redirects itself so that every hop is checked against robots.txt,
- retries timeouts, connection errors, truncated bodies, 5xx, 403 and 429 with exponential
  backoff (``Retry-After`` wins when the server sends it), at most ``max_retries`` times,
- raises :class:`Blocked` when 403/429 persist beyond the cap or the server asks to wait longer
  than ``max_wait_seconds``, and :class:`FetchError` (with a short reason) for other failures.
"""

from __future__ import annotations

import email.utils
import logging
import time
import urllib.robotparser
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urljoin, urlsplit

import requests

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
RETRIED_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
BLOCKING_STATUSES = frozenset({403, 429})


class FetchError(Exception):
    """A request failed for good (or after all retries); ``reason`` is a short code."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"{reason}: {url}")


class Blocked(Exception):
    """The site refuses us (persistent 403/429, a block page or an excessive Retry-After)."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"blocked at {url}: {reason}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delay-seconds or HTTP date).

    >>> parse_retry_after("120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))
    10.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class PoliteClient:
    """HTTP GET with robots.txt, pacing, retries and block detection.

    Parameters
    ----------
    user_agent : str
        Sent with every request and matched against robots.txt groups.
    delay_seconds : float
        Minimum gap between two requests to one host (raised by a robots.txt ``Crawl-delay``).
    timeout_seconds : float
        Connect and read timeout of one request.
    max_retries : int
        Retries after the first attempt of one request.
    backoff_seconds : float
        Wait before retry ``k`` (0-based) is ``backoff_seconds * 2**k``, capped at
        ``max_wait_seconds``, unless the server's ``Retry-After`` says otherwise.
    max_wait_seconds : float
        Longest wait the client accepts; a longer ``Retry-After`` counts as being blocked.
    session : requests.Session, optional
        Reused for connection pooling; a new one by default.
    sleep, clock : callable
        Injected by tests to observe waits without spending them.
    """

    def __init__(self, user_agent: str, delay_seconds: float = 2.0, timeout_seconds: float = 30.0,
                 max_retries: int = 4, backoff_seconds: float = 2.0,
                 max_wait_seconds: float = 600.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.user_agent = user_agent
        self.delay_seconds = delay_seconds
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self.requests_made = 0

    # -- robots.txt ---------------------------------------------------------------------------

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        host = _host(url)
        if host not in self._robots:
            parser = urllib.robotparser.RobotFileParser(host + "/robots.txt")
            try:
                response = self._follow(host + "/robots.txt", check_robots=False)
                lines = response.text.splitlines() if response.status_code == 200 else []
            except FetchError as error:
                # RFC 9309: an unavailable (4xx) robots.txt means no restrictions; a server
                # error or an unreachable host is not permission, so the error propagates.
                if not error.reason.startswith("http_4"):
                    raise
                lines = []
            parser.parse(lines)
            self._robots[host] = parser
        return self._robots[host]

    def allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's host lets our user agent fetch it."""
        return self._robots_for(url).can_fetch(self.user_agent, url)

    def _delay_for(self, host: str) -> float:
        robots = self._robots.get(host)
        crawl_delay = robots.crawl_delay(self.user_agent) if robots else None
        return max(self.delay_seconds, float(crawl_delay or 0))

    # -- requests -----------------------------------------------------------------------------

    def get(self, url: str) -> requests.Response:
        """GET ``url`` politely; the returned response has its body loaded.

        Raises
        ------
        FetchError
            ``disallowed`` (robots.txt), ``http_<status>`` (4xx, or 5xx after all retries),
            ``timeout``, ``connection``, ``truncated`` or ``too_many_redirects``.
        Blocked
            Persistent 403/429, or a ``Retry-After`` beyond ``max_wait_seconds``.
        """
        return self._follow(url, check_robots=True)

    def _follow(self, url: str, check_robots: bool) -> requests.Response:
        for _ in range(MAX_REDIRECTS + 1):
            if check_robots and not self.allowed(url):
                raise FetchError(url, "disallowed")
            response = self._with_retries(url)
            if not response.is_redirect:
                return response
            url = urljoin(url, response.headers["Location"])
        raise FetchError(url, "too_many_redirects")

    def _with_retries(self, url: str) -> requests.Response:
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            retry_after = None
            try:
                response = self._once(url)
            except requests.Timeout:
                reason = "timeout"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as error:
                reason = "truncated" if _is_truncation(error) else "connection"
            else:
                status = response.status_code
                if status < 400 and _is_truncated(response):
                    reason = "truncated"
                elif status < 400:
                    return response
                elif status not in RETRIED_STATUSES:
                    raise FetchError(url, f"http_{status}")
                else:
                    reason = f"http_{status}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if retry_after is not None and retry_after > self.max_wait_seconds:
                        raise Blocked(url, f"{reason} with Retry-After {retry_after:.0f} s")
                    if last_try and status in BLOCKING_STATUSES:
                        raise Blocked(url, f"{reason} after {self.max_retries} retries")
            if last_try:
                raise FetchError(url, reason)
            wait = retry_after if retry_after is not None else min(
                self.backoff_seconds * 2 ** attempt, self.max_wait_seconds)
            logger.info("%s for %s; retry %d/%d in %.1f s", reason, url, attempt + 1,
                        self.max_retries, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _once(self, url: str) -> requests.Response:
        host = _host(url)
        last = self._last_request.get(host)
        if last is not None:
            wait = last + self._delay_for(host) - self._clock()
            if wait > 0:
                self._sleep(wait)
        self.requests_made += 1
        try:
            response = self.session.get(url, timeout=self.timeout_seconds, allow_redirects=False)
            response.content  # read the body now, so truncation surfaces inside the retry loop
        finally:
            self._last_request[host] = self._clock()
        return response


def _is_truncation(error: Exception) -> bool:
    text = repr(error)
    return isinstance(error, requests.exceptions.ChunkedEncodingError) or (
        "IncompleteRead" in text or "incomplete" in text.lower())


def _is_truncated(response: requests.Response) -> bool:
    """A body shorter than its Content-Length (only comparable without content coding).

    urllib3 2 already raises on a short body; urllib3 1.x, which requests also accepts, does not.
    """
    length = response.headers.get("Content-Length")
    coding = response.headers.get("Content-Encoding", "identity").lower()
    if not (length and length.isdigit()) or coding != "identity":
        return False
    return len(response.content) < int(length)
