"""The seed's algorithm (``spacekit.Radio.mast_aws``, docs: /work/shared/reference/seed-spacekit-radio.md),
written faithfully as the baseline: per target, one after another, query MAST, list the products, keep
the LLC files, look up their cloud keys, and download each file with boto3.

The only departures are those the offline stand-ins force; each is marked ``OFFLINE:`` below.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import requests

PUBLIC_BUCKET = "stpubdata"
REGION = "us-east-1"


def confirmed_k2_targets(tap_url: str) -> list[str]:
    """The target list, as the seed's "Alt" section gets it: one request to the Exoplanet Archive.

    OFFLINE: the seed's ``nph-nstedAPI?table=exoplanets`` API was retired in 2021; this asks the TAP
    stand-in for the same list (confirmed K2 hosts). The names are MAST target names, ``ktwo<EPIC>``.
    """
    adql = ("select distinct epic_hostname from k2pandc "
            "where disposition = 'CONFIRMED' and epic_hostname is not null")
    reply = requests.get(f"{tap_url}/TAP/sync", params={"query": adql, "format": "json"}, timeout=60)
    reply.raise_for_status()
    epics = sorted(int(row["epic_hostname"].split()[-1]) for row in reply.json())
    return [f"ktwo{epic:09d}" for epic in epics]


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


def mast_aws(target_list: list[str], *, mast_url: str, s3_endpoint: str, download_dir: Path) -> dict[str, int]:
    """``spacekit.Radio.mast_aws``: download the K2 long-cadence light curves of each target, serially."""
    import boto3
    from astroquery.mast import Observations
    from botocore import UNSIGNED
    from botocore.config import Config

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
        # Do a cone search and find the K2 long cadence data for target
        # OFFLINE: query_object(target, radius="0s") resolves the name through a host hard-coded in
        # astroquery that cannot be redirected to the stand-in; a query on the MAST target name asks the
        # same Mast.Caom service for the same observations.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obs = Observations.query_criteria(target_name=target, obs_collection="K2")
            want = (obs["obs_collection"] == "K2") & (obs["t_exptime"] == 1800.0)
            data_prod = Observations.get_product_list(obs[want])
            filt_prod = Observations.filter_products(data_prod, productSubGroupDescription="LLC")
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
