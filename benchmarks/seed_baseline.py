"""The seed's algorithm (``spacekit.Radio.mast_aws``, docs: /work/shared/reference/seed-spacekit-radio.md),
written faithfully as the baseline: per target, one after another, query MAST, list the products, keep
the mission's light curves, look up their cloud keys, and download each file with boto3.

The seed does K2 only; the same loop is run for Kepler and TESS with only the data of :data:`SEED_MISSIONS`
changed (target list, MAST target names, collection, cadence, product subgroup). The only departures are
those the offline stand-ins force or the other missions need; each is marked ``OFFLINE:`` below.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

PUBLIC_BUCKET = "stpubdata"
REGION = "us-east-1"


@dataclass(frozen=True)
class SeedMission:
    """What the seed's loop needs to know of a mission."""

    adql: str  # the confirmed targets, one row each
    id_column: str
    target_name: str  # MAST's target_name of an id, as a format string
    collection: str
    cadence_s: float
    subgroup: str
    # OFFLINE (an adaptation, not in the seed): Kepler lists each target's .tar bundle of all quarters in the
    # LLC subgroup too; astroquery's own extension filter leaves it out. K2 keeps the seed's call unchanged.
    extension: str | None


SEED_MISSIONS = {
    "k2": SeedMission("select distinct epic_hostname from k2pandc "
                      "where disposition = 'CONFIRMED' and epic_hostname is not null",
                      "epic_hostname", "ktwo{:09d}", "K2", 1800.0, "LLC", None),
    "kepler": SeedMission("select distinct kepid from cumulative where koi_disposition = 'CONFIRMED'",
                          "kepid", "kplr{:09d}", "Kepler", 1800.0, "LLC", "fits"),
    "tess": SeedMission("select distinct tid from toi where tfopwg_disp in ('CP','KP')",
                        "tid", "{:d}", "TESS", 120.0, "LC", "fits"),
}


def confirmed_targets(mission: str, tap_url: str) -> list[str]:
    """The target list, as the seed's "Alt" section gets it: one request to the Exoplanet Archive.

    OFFLINE: the seed's ``nph-nstedAPI?table=exoplanets`` API was retired in 2021; this asks the TAP
    stand-in for the same list (the mission's confirmed hosts). The names are MAST target names
    (``ktwo<EPIC>``, ``kplr<KIC>``, the TIC id).
    """
    seed = SEED_MISSIONS[mission]
    reply = requests.get(f"{tap_url}/TAP/sync", params={"query": seed.adql, "format": "json"}, timeout=60)
    reply.raise_for_status()
    ids = sorted(int(str(row[seed.id_column]).split()[-1]) for row in reply.json())  # "EPIC 201367065" or 11904151
    return [seed.target_name.format(target_id) for target_id in ids]


def point_astroquery_at(observations: Any, mast_url: str) -> None:
    """OFFLINE: astroquery builds its MAST URLs from ``conf.server`` at import time, so the singleton's
    URLs are set here (the requests are otherwise exactly astroquery's, through its own session)."""
    portal = observations._portal_api_connection
    portal.MAST_REQUEST_URL = f"{mast_url}/api/v0/invoke"
    portal.COLUMNS_CONFIG_URL = f"{mast_url}/portal/Mashup/Mashup.asmx/columnsconfig"
    portal.MAST_DOWNLOAD_URL = f"{mast_url}/api/v0.1/Download/file"
    service = observations._service_api_connection
    service.SERVICE_URL = mast_url
    service.REQUEST_URL = f"{mast_url}/api/v0.1/"


def get_cloud_uris(products: Any, mast_url: str, s3_client: Any, session: requests.Session) -> list[str]:
    """``Observations.get_cloud_uris(filt_prod)`` as astroquery 0.4.11 does it: unique dataURIs, one
    ``path_lookup`` request per 50 URIs, then a ``head_object`` per path to check it is in the bucket.

    OFFLINE: astroquery's ``utils.mast_relative_path`` calls ``https://mast.stsci.edu/api/v0.1/path_lookup/``
    (hard-coded), so the same request goes to the MAST stand-in here, with requests.
    """
    uris = list(dict.fromkeys(str(u) for u in products["dataURI"]))
    uris_out = []
    for start in range(0, len(uris), 50):
        chunk = uris[start:start + 50]
        reply = session.get(f"{mast_url}/api/v0.1/path_lookup/", params={"uri": chunk}, timeout=60)
        reply.raise_for_status()
        paths = reply.json()
        for uri in chunk:
            path = paths.get(uri, {}).get("path")
            if path is None:
                continue
            path = path.lstrip("/")
            s3_client.head_object(Bucket=PUBLIC_BUCKET, Key=path)  # astroquery checks each key this way
            uris_out.append(f"s3://{PUBLIC_BUCKET}/{path}")
    return uris_out


def mast_aws(target_list: list[str], *, mission: str = "k2", mast_url: str, s3_endpoint: str,
             download_dir: Path) -> dict[str, int]:
    """``spacekit.Radio.mast_aws``: download the mission's light curves of each target, serially."""
    import boto3
    from astroquery.mast import Observations
    from botocore import UNSIGNED
    from botocore.config import Config

    seed = SEED_MISSIONS[mission]
    # configure aws settings
    # OFFLINE: the stand-in's endpoint, read anonymously (the bucket is public; requester-pays ended in 2021).
    s3 = boto3.resource("s3", region_name=REGION, endpoint_url=s3_endpoint,
                        config=Config(signature_version=UNSIGNED))
    bucket = s3.Bucket(PUBLIC_BUCKET)
    # OFFLINE: Observations.enable_cloud_dataset(provider='AWS', profile='default') only sets up the boto3
    # client astroquery's get_cloud_uris uses for its head_object checks; get_cloud_uris() below has its own.
    point_astroquery_at(Observations, mast_url)
    cloud_client = boto3.client("s3", region_name=REGION, endpoint_url=s3_endpoint,
                                config=Config(signature_version=UNSIGNED))
    lookup = requests.Session()
    download_dir.mkdir(parents=True, exist_ok=True)
    files = downloaded = 0

    for target in target_list:
        # Do a cone search and find the mission's light curves (K2: long cadence) for target
        # OFFLINE: query_object(target, radius="0s") resolves the name through a host hard-coded in
        # astroquery that cannot be redirected to the stand-in; a query on the MAST target name asks the
        # same Mast.Caom service for the same observations.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obs = Observations.query_criteria(target_name=target, obs_collection=seed.collection)
            want = (obs["obs_collection"] == seed.collection) & (obs["t_exptime"] == seed.cadence_s)
            data_prod = Observations.get_product_list(obs[want])
            filt_prod = Observations.filter_products(data_prod, productSubGroupDescription=seed.subgroup,
                                                     extension=seed.extension)
        s3_uris = get_cloud_uris(filt_prod, mast_url, cloud_client, lookup)
        for url in s3_uris:
            # Extract the S3 key from the S3 URL
            fits_s3_key = url.replace(f"s3://{PUBLIC_BUCKET}/", "")
            root = url.split("/")[-1]
            # OFFLINE: into download_dir instead of the working directory.
            bucket.download_file(fits_s3_key, str(download_dir / root), ExtraArgs={"RequestPayer": "requester"})
            files += 1
            downloaded += (download_dir / root).stat().st_size
    return {"targets": len(target_list), "files": files, "bytes_through_worker": downloaded}
