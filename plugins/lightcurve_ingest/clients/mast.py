"""MAST's portal API through astroquery's ``Observations``: observation and product queries, as plain rows.

A client only: which collection, cadences and products a mission wants is in ``missions``; ``discovery``
turns the rows into files to copy.
"""

from __future__ import annotations

import warnings
from typing import Any

from lightcurve_ingest.clients.sessions import TimeoutSession
from lightcurve_ingest.errors import ServiceReplyError
from lightcurve_ingest.settings import HTTP_ATTEMPTS, http_timeout_seconds

# A whole query may last this many request timeouts: every try of a request, plus one for their backoff.
QUERY_BUDGET_TIMEOUTS = HTTP_ATTEMPTS + 1
OBSERVATION_COLUMNS = ("obsid", "obs_id", "target_name", "t_exptime", "obs_collection", "provenance_name",
                       "t_obs_release")
PRODUCT_COLUMNS = ("obsID", "obs_id", "dataURI", "productSubGroupDescription", "productFilename", "size")


class MastClient:
    """astroquery's ``Observations`` pointed at ``base_url``, with a session that has a timeout (astroquery
    passes none) and retries of transient errors."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        from astroquery.mast import ObservationsClass

        timeout = http_timeout_seconds() if timeout is None else timeout
        self.base_url = base_url.rstrip("/")
        self.session = TimeoutSession(timeout)
        self.observations = ObservationsClass()
        _point_astroquery_at(self.observations, self.base_url, self.session, timeout)

    def query_observations(self, **criteria: Any) -> list[dict[str, Any]]:
        """One ``Mast.Caom.Filtered`` request (``query_criteria``): a continuous column takes a ``[min, max]``
        range, a list of target names goes in one request."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NoResultsWarning: an empty table says the same
            table = self.observations.query_criteria(dataproduct_type="timeseries", **criteria)
        return _rows(table, OBSERVATION_COLUMNS, "observation")

    def query_products(self, obsids: list[str]) -> list[dict[str, Any]]:
        """One ``Mast.Caom.Products`` request for all ``obsids``."""
        if not obsids:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = self.observations.get_product_list(list(obsids))
        return _rows(table, PRODUCT_COLUMNS, "product")


def _point_astroquery_at(observations: Any, base_url: str, session: Any, timeout: float) -> None:
    """The one place astroquery's private attributes are set (checked on astroquery 0.4.11).

    Why they must be: astroquery builds its MAST URLs as class attributes from ``conf.server`` when it is
    imported (``PortalAPI.MAST_REQUEST_URL``, ``ServiceAPI.REQUEST_URL``), so neither ``conf`` nor any public
    argument points one client at another server (the ``mast_api`` connection, or a stand-in); and
    ``Observations`` takes no session, so the timeout and retries go in through ``_session``.
    """
    session.headers["User-Agent"] = observations._session.headers["User-Agent"]
    observations._session = session
    portal = observations._portal_api_connection
    portal._session = session
    # astroquery's TIMEOUT is not a request's timeout but the limit of a whole query (all its pages,
    # EXECUTING polls and, through our session, retries): equal to one request's timeout, a hang that
    # the retry got past still failed the query. One request's timeout is the session's.
    portal.TIMEOUT = QUERY_BUDGET_TIMEOUTS * timeout
    portal.MAST_REQUEST_URL = f"{base_url}/api/v0/invoke"
    portal.COLUMNS_CONFIG_URL = f"{base_url}/portal/Mashup/Mashup.asmx/columnsconfig"
    portal.MAST_DOWNLOAD_URL = f"{base_url}/api/v0.1/Download/file"
    portal.MAST_BUNDLE_URL = f"{base_url}/api/v0.1/Download/bundle"
    service = observations._service_api_connection
    service._session = session
    service.TIMEOUT = QUERY_BUDGET_TIMEOUTS * timeout
    service.SERVICE_URL = base_url
    service.REQUEST_URL = f"{base_url}/api/v0.1/"
    service.MAST_DOWNLOAD_URL = f"{base_url}/api/v0.1/Download/file"


def _rows(table: Any, columns: tuple[str, ...], what: str) -> list[dict[str, Any]]:
    """The ``columns`` of each row of an astropy table; a masked cell becomes None."""
    if len(table) == 0:
        return []
    for column in columns:
        if column not in table.colnames:
            raise ServiceReplyError(f"MAST {what} reply has no {column!r} column")
    return [{c: _cell(row[c]) for c in columns} for row in table]


def _cell(value: Any) -> Any:
    import numpy as np

    if value is np.ma.masked:
        return None
    return value.item() if isinstance(value, np.generic) else value
