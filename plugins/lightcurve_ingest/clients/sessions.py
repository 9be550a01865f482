"""requests sessions with a timeout on every call and capped, jittered retries of transient errors."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lightcurve_ingest.settings import HTTP_ATTEMPTS, HTTP_BACKOFF_MAX_SECONDS, http_backoff

TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


class CappedRetry(Retry):
    """urllib3's Retry, but a server's ``Retry-After`` never makes us wait longer than ``backoff_max``.

    urllib3 sleeps for whatever ``Retry-After`` says (an outage page saying 3600 would stall a task for
    an hour, past any timeout); capped, the retry still honours a short one.
    """

    def get_retry_after(self, response):  # noqa: ANN001, ANN201
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.backoff_max)


class TimeoutSession(requests.Session):
    """A session that never waits forever: callers that pass no timeout (astroquery) get ours.

    It sends no credentials of its own: ``~/.netrc`` (which requests would otherwise read, also on
    redirects) is ignored, so only what a caller passes explicitly ever leaves the machine.
    """

    def __init__(self, timeout: float, attempts: int = HTTP_ATTEMPTS, backoff: float | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        backoff = http_backoff() if backoff is None else backoff
        retry = CappedRetry(
            total=attempts - 1,  # every kind of retry together: connection errors, timeouts and statuses
            status_forcelist=TRANSIENT_STATUSES,
            allowed_methods=None,  # MAST's portal queries are POSTs but read-only: safe to repeat
            backoff_factor=backoff,
            backoff_max=HTTP_BACKOFF_MAX_SECONDS * backoff,  # 30 s at the default factor of 1
            backoff_jitter=backoff,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.auth = _no_netrc

    def request(self, method, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)

    def rebuild_auth(self, prepared_request, response):  # noqa: ANN001, ANN201
        """On a redirect, drop an Authorization header bound for another host; never add netrc's."""
        if "Authorization" in prepared_request.headers and self.should_strip_auth(response.request.url,
                                                                                  prepared_request.url):
            del prepared_request.headers["Authorization"]


def _no_netrc(request):  # noqa: ANN001, ANN202
    """A do-nothing auth: set as the session's auth, it stops requests from looking in ~/.netrc."""
    return request
