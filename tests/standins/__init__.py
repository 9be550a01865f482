"""Local stand-ins for MAST, the NASA Exoplanet Archive (TAP) and the public S3 bucket.

They speak the real protocols over HTTP on 127.0.0.1, so astroquery, requests and
boto3/S3Hook work against them unmodified once pointed at their base URLs::

    with Standins(n_hosts=20) as s:
        os.environ.update(s.airflow_env())
        ...  # s.mast, s.tap, s.s3, s.universe
"""

from __future__ import annotations

import json

from .mast_portal import MastPortalStandin
from .s3 import PUBLIC_BUCKET, REGION, S3Standin
from .tap import TapStandin
from .universe import Universe, build_universe

__all__ = ["MastPortalStandin", "S3Standin", "Standins", "TapStandin", "Universe", "build_universe"]


class Standins:
    """Start the three stand-ins over one Universe (built here unless given); stop them on exit.

    ``fits_rows`` None: light curves of real sizes; a number: that many rows; ``real_k2``: the real K2 stars after the
    generated K2 hosts; ``hlsps``: high-level science products too (see :func:`build_universe` and :mod:`.hlsp`)."""

    def __init__(self, universe: Universe | None = None, *, n_hosts: int = 20, seed: int = 0,
                 fits_rows: int | None = None, unknown_to_mast: int = 0, kepler_hosts: int | None = None,
                 tess_hosts: int | None = None, mast_latency_s: float = 0.0, tap_latency_s: float = 0.0,
                 s3_latency_s: float = 0.0, real_k2: bool = False, hlsps: bool = False) -> None:
        self.universe = universe or build_universe(n_hosts, seed=seed, fits_rows=fits_rows,
                                                   unknown_to_mast=unknown_to_mast, kepler_hosts=kepler_hosts,
                                                   tess_hosts=tess_hosts, real_k2=real_k2, hlsps=hlsps)
        self._latencies = (mast_latency_s, tap_latency_s, s3_latency_s)
        self.mast: MastPortalStandin | None = None
        self.tap: TapStandin | None = None
        self.s3: S3Standin | None = None

    def start(self) -> Standins:
        mast_latency, tap_latency, s3_latency = self._latencies
        try:
            self.mast = MastPortalStandin(self.universe, latency_s=mast_latency)
            self.tap = TapStandin(self.universe, latency_s=tap_latency)
            self.s3 = S3Standin(self.universe, latency_s=s3_latency)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for standin in (self.s3, self.tap, self.mast):
            if standin is not None:
                standin.stop()

    def __enter__(self) -> Standins:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to a clean state between tests: no faults, latency, crafted products, release cutoff or
        recorded requests."""
        for part in (self.mast, self.tap, self.s3):
            part.clear_faults()
            part.latency_s = 0.0
            part.reset_counters()
        self.mast.clear_products()
        self.mast.retry_after = None
        self.mast.release_cutoff_mjd = None
        self.s3.body_delay_s = 0.0

    def fetch_counts(self) -> dict[str, int]:
        """Files fetched since the last reset, by source: ``https`` the GETs of MAST's ``Download/file``,
        ``bucket`` the reads of public-bucket objects (GETs and copies; see :meth:`S3Standin.public_reads`)."""
        return {"https": self.mast.download_count, "bucket": sum(self.s3.public_reads().values())}

    def airflow_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables (JSON form) pointing the pipeline at the stand-ins."""
        endpoint = self.s3.endpoint_url
        connections = {
            "MAST_API": {"conn_type": "http", "host": self.mast.base_url},
            "NASA_EXOPLANET_ARCHIVE": {"conn_type": "http", "host": self.tap.base_url},
            "MAST_PUBLIC_S3": {"conn_type": "aws", "extra": {
                "endpoint_url": endpoint, "region_name": REGION,
                "config_kwargs": {"signature_version": "unsigned"}}},
            "AWS_DEFAULT": {"conn_type": "aws", "login": "testing", "password": "testing", "extra": {
                "endpoint_url": endpoint, "region_name": REGION}},
        }
        return {f"AIRFLOW_CONN_{name}": json.dumps(conn) for name, conn in connections.items()}

    @property
    def public_bucket(self) -> str:
        return PUBLIC_BUCKET
