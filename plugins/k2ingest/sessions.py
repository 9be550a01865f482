"""requests sessions with a timeout on every call and capped, jittered retries of transient errors."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


class TimeoutSession(requests.Session):
    """A session that never waits forever: callers that pass no timeout (astroquery) get ours."""

    def __init__(self, timeout: float, retries: int = 3, backoff: float = 1.0) -> None:
        super().__init__()
        self.timeout = timeout
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            status_forcelist=TRANSIENT_STATUSES,
            allowed_methods=None,  # MAST's portal queries are POSTs but read-only: safe to repeat
            backoff_factor=backoff,
            backoff_max=30,
            backoff_jitter=backoff,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)
