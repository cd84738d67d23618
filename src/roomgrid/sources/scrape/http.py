"""A polite HTTP client: identifies itself, honours robots.txt, paces and retries requests.

Every request goes through :meth:`PoliteClient.get`, which

- checks ``robots.txt`` of the host (fetched once per host, ``Crawl-delay`` honoured),
- takes its turn at the host: requests to one host are at least ``delay_seconds`` apart (from
  the end of one to the start of the next), across every process given the same ``pacing_dir``,
  so parallel scrape jobs stay polite to the one images host they all use,
- follows redirects itself so that every hop is checked against robots.txt,
- leaves retrying timeouts, connection errors and HTTP 403, 429 and 5xx to urllib3's
  :class:`~urllib3.util.Retry` mounted on the session (exponential backoff, ``Retry-After``
  obeyed), at most ``max_retries`` times; its waits are routed through the client, which keeps
  them at least the pacing delay and calls a ``Retry-After`` beyond ``max_wait_seconds`` a block,
- retries a body cut short itself: requests reads the body only after urllib3 has returned the
  response, where its Retry no longer sees it,
- raises :class:`Blocked` when 403/429 persist beyond the cap or the server asks to wait longer
  than ``max_wait_seconds``, and :class:`FetchError` (with a short reason) for other failures.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import time
import urllib.robotparser
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

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


class _TooLongWait(Exception):
    """Raised inside urllib3's retry loop to leave it; the client turns it into :class:`Blocked`."""

    def __init__(self, cause: str, seconds: float):
        super().__init__(f"{cause} with Retry-After {seconds:.0f} s")


class _BodyFailed(Exception):
    """The body of a response could not be read in full; ``reason`` as in :class:`FetchError`."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class _ClientRetry(Retry):
    """urllib3's Retry deciding what is retried and how often, and parsing ``Retry-After``; only
    the waits differ, handed to the client (see :meth:`PoliteClient._pause_before_retry`)."""

    def __init__(self, *args, client: PoliteClient | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client

    def new(self, **kwargs) -> _ClientRetry:
        retry = super().new(**kwargs)
        retry.client = self.client
        return retry

    def get_backoff_time(self) -> float:
        # urllib3 retries a first failure at once; a server that just failed gets a pause first.
        if not self.history:
            return 0.0
        return min(self.backoff_factor * 2 ** (len(self.history) - 1),
                   self.client.max_wait_seconds)

    def retry_after(self, headers) -> float | None:
        """Seconds a ``Retry-After`` header asks for (urllib3 parses both of its forms)."""
        value = headers.get("Retry-After")
        if value is None or not self.respect_retry_after_header:
            return None
        try:
            return float(self.parse_retry_after(value))
        except InvalidHeader:
            return None  # unreadable: back off as usual

    def sleep(self, response=None) -> None:
        last = self.history[-1]
        self.client._pause_before_retry(
            f"http_{last.status}" if last.status else type(last.error).__name__,
            len(self.history), self.get_backoff_time(),
            self.retry_after(response.headers) if response is not None else None)


class HostPacing:
    """Keeps requests to one host ``delay`` apart: from the end of one to the start of the next.

    With a ``directory``, each host has a file there holding the time its last request ended,
    locked (``flock``) for the whole of a request, so all processes sharing the folder take turns
    at the host; without one, the pacing holds within this process only. The shared time is the
    wall clock, as a monotonic clock means nothing to another boot; a wait never exceeds one
    ``delay``, so a clock set back cannot stall the scrape.
    """

    def __init__(self, directory: str | Path | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time):
        self.directory = Path(directory) if directory is not None else None
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}

    @contextlib.contextmanager
    def turn(self, host: str, delay: float) -> Iterator[None]:
        """Wait until ``host`` may be asked again, and hold it until the request is done."""
        if self.directory is None:
            self._wait(self._last.get(host), delay)
            try:
                yield
            finally:
                self._last[host] = self._clock()
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / _file_name(host), "a+", encoding="ascii") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            handle.seek(0)
            self._wait(_parse_time(handle.read()), delay)
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{self._clock():.6f}\n")
                handle.flush()

    def _wait(self, last: float | None, delay: float) -> None:
        if last is None:
            return
        wait = min(delay, last + delay - self._clock())
        if wait > 0:
            self._sleep(wait)


def _file_name(host: str) -> str:
    """``https://images.craigslist.org`` -> ``https_images.craigslist.org`` (ports kept)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", host)


def _parse_time(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # a new file (or one cut short by a crash): no request to wait for


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
    pacing_dir : str or Path, optional
        Folder of the per-host lock files that pace requests across processes; without it the
        pacing holds within this client only.
    session : requests.Session, optional
        Reused for connection pooling; a new one by default. The retrying adapter is mounted on it.
    sleep, clock : callable
        Injected by tests to observe waits without spending them (``clock`` is the wall clock,
        shared by the processes pacing through ``pacing_dir``).
    """

    def __init__(self, user_agent: str, delay_seconds: float = 2.0, timeout_seconds: float = 30.0,
                 max_retries: int = 4, backoff_seconds: float = 2.0,
                 max_wait_seconds: float = 600.0, pacing_dir: str | Path | None = None,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time):
        self.user_agent = user_agent
        self.delay_seconds = delay_seconds
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self._retry = _ClientRetry(total=max_retries, status_forcelist=RETRIED_STATUSES,
                                   backoff_factor=backoff_seconds, raise_on_status=False,
                                   client=self)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(max_retries=self._retry))
        self._sleep = sleep
        self._pacing = HostPacing(pacing_dir, sleep=sleep, clock=clock)
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._current: tuple[str, float] = ("", 0.0)  # URL and pacing delay of the request
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
            response = self._with_body_retries(url)
            status = response.status_code
            retry_after = self._retry.retry_after(response.headers)
            if status in RETRIED_STATUSES and (retry_after or 0) > self.max_wait_seconds:
                raise Blocked(url, f"http_{status} with Retry-After {retry_after:.0f} s")
            if status in BLOCKING_STATUSES:
                raise Blocked(url, f"http_{status} after {self.max_retries} retries")
            if status >= 400:
                raise FetchError(url, f"http_{status}")
            if not response.is_redirect:
                return response
            url = urljoin(url, response.headers["Location"])
        raise FetchError(url, "too_many_redirects")

    def _with_body_retries(self, url: str) -> requests.Response:
        """urllib3 retries up to the response's head; a body cut short is retried here."""
        for attempt in range(self.max_retries + 1):
            try:
                return self._once(url)
            except _BodyFailed as failure:
                if attempt == self.max_retries:
                    raise FetchError(url, failure.reason) from failure
                wait = min(self.backoff_seconds * 2 ** attempt, self.max_wait_seconds)
                logger.info("%s for %s; retry %d/%d in %.1f s", failure.reason, url, attempt + 1,
                            self.max_retries, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _once(self, url: str) -> requests.Response:
        """One GET (with urllib3's retries inside it) during the host's turn."""
        host = _host(url)
        delay = self._delay_for(host)
        with self._pacing.turn(host, delay):
            self._current = (url, delay)
            self.requests_made += 1
            try:
                # stream: the head only, so that a failing body is told apart (it is ours to retry)
                response = self.session.get(url, timeout=self.timeout_seconds,
                                            allow_redirects=False, stream=True)
            except _TooLongWait as wait:
                raise Blocked(url, str(wait)) from None
            except (requests.ConnectionError, requests.Timeout) as error:
                raise FetchError(url, _reason(error)) from error
            try:
                response.content  # read the body now, inside the host's turn
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as error:
                raise _BodyFailed(_reason(error)) from error
        if response.status_code < 400 and _is_truncated(response):
            raise _BodyFailed("truncated")
        return response

    def _pause_before_retry(self, cause: str, retry: int, backoff: float,
                            retry_after: float | None) -> None:
        """The wait urllib3's Retry asks for: the server's ``Retry-After`` or the backoff, never
        less than the pacing delay (the host stays ours meanwhile), spent through ``sleep``."""
        url, delay = self._current
        if retry_after is not None and retry_after > self.max_wait_seconds:
            raise _TooLongWait(cause, retry_after)
        wait = max(backoff if retry_after is None else retry_after, delay)
        logger.info("%s for %s; retry %d/%d in %.1f s", cause, url, retry, self.max_retries, wait)
        if wait > 0:
            self._sleep(wait)
        self.requests_made += 1


def _reason(error: requests.RequestException) -> str:
    """``timeout``, ``truncated`` or ``connection``: what ended a request that got no response."""
    cause = error.args[0] if error.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason  # urllib3 gave up: the last failure it retried
    if isinstance(error, requests.Timeout) or isinstance(cause, Urllib3Timeout):
        return "timeout"
    if _is_truncation(error):
        return "truncated"
    return "connection"


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
