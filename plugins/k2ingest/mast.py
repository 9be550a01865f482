"""Ask MAST, through astroquery, which K2 long-cadence light curves exist for a batch of targets."""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass

from k2ingest.errors import InvalidInputError, ServiceReplyError
from k2ingest.keys import campaign_of, epic_of, source_key_from_data_uri, validate_source_key
from k2ingest.sessions import TimeoutSession
from k2ingest.settings import HTTP_TIMEOUT_SECONDS
from k2ingest.targets import Target

log = logging.getLogger(__name__)

LONG_CADENCE_SECONDS = 1800.0
LONG_CADENCE_RANGE = [1799.0, 1801.0]  # t_exptime is continuous: a single value is silently ignored
# A whole query may last this many request timeouts: 4 tries of a request (3 retries) plus their backoff.
QUERY_BUDGET_TIMEOUTS = 5


@dataclass(frozen=True)
class LightCurveFile:
    """One LLC file to copy: where it is in the public bucket and what MAST says of it."""

    epic_id: int
    hostname: str
    campaign: int
    source_key: str
    data_uri: str
    mast_size: int
    obs_id: str
    obsid: str
    product_filename: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LightCurveFile:
        return cls(**data)


@dataclass(frozen=True)
class BatchListing:
    """What MAST knows of one batch: the files to copy and the targets it has nothing for."""

    files: list[LightCurveFile]
    not_found: list[Target]
    observations: int

    def to_dict(self) -> dict:
        return {
            "files": [f.to_dict() for f in self.files],
            "not_found": [t.to_dict() for t in self.not_found],
            "observations": self.observations,
        }


class MastClient:
    """astroquery's ``Observations`` with every URL pointed at ``base_url``.

    astroquery builds its URLs from ``conf.server`` at import time, so they are set here on the
    instance; its session gets a timeout (astroquery passes none) and retries of transient errors.
    """

    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        from astroquery.mast import ObservationsClass

        self.base_url = base_url.rstrip("/")
        self.session = TimeoutSession(timeout)
        self.observations = ObservationsClass()
        self.session.headers["User-Agent"] = self.observations._session.headers["User-Agent"]
        self.observations._session = self.session
        portal = self.observations._portal_api_connection
        portal._session = self.session
        # astroquery's TIMEOUT is not a request's timeout but the limit of a whole query (all its pages,
        # EXECUTING polls and, through our session, retries): equal to one request's timeout, a hang that
        # the retry got past still failed the query. One request's timeout is the session's.
        portal.TIMEOUT = QUERY_BUDGET_TIMEOUTS * timeout
        portal.MAST_REQUEST_URL = f"{self.base_url}/api/v0/invoke"
        portal.COLUMNS_CONFIG_URL = f"{self.base_url}/portal/Mashup/Mashup.asmx/columnsconfig"
        portal.MAST_DOWNLOAD_URL = f"{self.base_url}/api/v0.1/Download/file"
        portal.MAST_BUNDLE_URL = f"{self.base_url}/api/v0.1/Download/bundle"
        service = self.observations._service_api_connection
        service._session = self.session
        service.TIMEOUT = QUERY_BUDGET_TIMEOUTS * timeout
        service.SERVICE_URL = self.base_url
        service.REQUEST_URL = f"{self.base_url}/api/v0.1/"
        service.MAST_DOWNLOAD_URL = f"{self.base_url}/api/v0.1/Download/file"

    def find_light_curves(self, targets: list[Target]) -> BatchListing:
        """One observation query and one product query for the whole batch."""
        by_name = {t.mast_name: t for t in targets}
        observations = self._long_cadence_observations(list(by_name))
        if len(observations) == 0:
            return BatchListing(files=[], not_found=sorted(targets), observations=0)
        products = self._llc_products(observations)
        files = [self._to_file(row, by_name) for row in products]
        files = [f for f in files if f is not None]
        found = {f.epic_id for f in files}
        not_found = sorted(t for t in targets if t.epic_id not in found)
        return BatchListing(files=sorted(files, key=lambda f: f.source_key), not_found=not_found,
                            observations=len(observations))

    def _long_cadence_observations(self, mast_names: list[str]):  # noqa: ANN202 (astropy Table)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NoResultsWarning: an empty table says the same
            table = self.observations.query_criteria(
                obs_collection="K2",
                dataproduct_type="timeseries",
                target_name=mast_names,
                t_exptime=LONG_CADENCE_RANGE,
            )
        if len(table) == 0:
            return table
        for column in ("obsid", "target_name", "t_exptime", "obs_collection"):
            if column not in table.colnames:
                raise ServiceReplyError(f"MAST observation reply has no {column!r} column")
        keep = (table["obs_collection"] == "K2") & (table["t_exptime"] == LONG_CADENCE_SECONDS)
        return table[keep]

    def _llc_products(self, observations):  # noqa: ANN001, ANN202 (astropy Tables)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            products = self.observations.get_product_list(observations)
        if len(products) == 0:
            return []
        for column in ("productSubGroupDescription", "dataURI", "size", "obs_id", "obsID"):
            if column not in products.colnames:
                raise ServiceReplyError(f"MAST product reply has no {column!r} column")
        return [row for row in products if row["productSubGroupDescription"] == "LLC"]

    def _to_file(self, row, by_name: dict[str, Target]) -> LightCurveFile | None:  # noqa: ANN001
        data_uri = str(row["dataURI"])
        try:
            key = validate_source_key(source_key_from_data_uri(data_uri))
        except InvalidInputError as err:
            log.warning("Skipping a product MAST listed with an unusable dataURI: %s", err)
            return None
        target = by_name.get(f"ktwo{epic_of(key):09d}")
        if target is None:
            log.warning("Skipping %s: MAST listed it for a target not in this batch", data_uri)
            return None
        return LightCurveFile(
            epic_id=target.epic_id,
            hostname=target.hostname,
            campaign=campaign_of(key),
            source_key=key,
            data_uri=data_uri,
            mast_size=_product_size(row, data_uri),
            obs_id=str(row["obs_id"]),
            obsid=str(row["obsID"]),
            product_filename=key.rsplit("/", 1)[-1],
        )


def _product_size(row, data_uri: str) -> int:  # noqa: ANN001 (an astropy Row)
    """The product's size in bytes: a file is verified against it, so a missing or odd one is an error.

    (Not a skip: the target would then count as complete without its file.)
    """
    value = row["size"]
    try:
        size = int(value) if not getattr(value, "mask", False) and float(value) == int(value) else -1
    except (TypeError, ValueError, OverflowError):
        size = -1
    if size <= 0:
        raise ServiceReplyError(f"MAST product {data_uri} has no usable size ({value!r})")
    return size
