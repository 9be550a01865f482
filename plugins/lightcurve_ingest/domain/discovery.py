"""Ask MAST which light curves a batch of targets has: one observation query per kind of collection and one product
query a batch.

The mission's own light curves come from its collection (``obs_collection`` ``K2``, ``Kepler``, ``TESS``); the
high-level science products asked for (``products``: QLP, TESS-SPOC, K2SFF, EVEREST) from one more query of the
``HLSP`` collection, filtered by the mission as ``project`` and by the products' ``provenance_name``, never one
query per target.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lightcurve_ingest.clients.mast import MastClient
from lightcurve_ingest.domain.missions import Mission, ProductKind
from lightcurve_ingest.domain.missions.hlsp import HLSP_COLLECTION, HlspProduct
from lightcurve_ingest.domain.payloads import Batch, LightCurveFile, Listing, ReleaseWindow, Target
from lightcurve_ingest.errors import InvalidInputError, ServiceReplyError

log = logging.getLogger(__name__)

UNIX_EPOCH_MJD = 40587.0  # 1970-01-01 as a Modified Julian Date


def mjd(moment: datetime) -> float:
    """A time as MAST's ``t_obs_release`` gives it: a Modified Julian Date (UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return UNIX_EPOCH_MJD + moment.timestamp() / 86400.0


def find_light_curves(mission: Mission, batch: Batch, mast: MastClient, include_fast_cadence: bool = False,
                      products: tuple[str, ...] = ()) -> Listing:
    """The batch's light curves of the ``products`` asked for (default: the mission's own pipeline's, of its
    kinds); with a release window, only those released in it.

    A target with nothing is "not found", except in a release window, where nothing new is the usual answer.
    """
    products = products or (mission.own_product,)
    kinds = mission.product_kinds(include_fast_cadence) if mission.own_product in products else ()
    hlsps = tuple(mission.hlsp(name) for name in products if name != mission.own_product)
    by_name = {mission.mast_target_name(t.target_id): t for t in batch.targets}
    observations = _observations(mission, kinds, list(by_name), batch.released, mast) if kinds else []
    if hlsps:
        observations += _hlsp_observations(mission, hlsps, list(by_name), batch.released, mast)
    cadences = {str(o["obsid"]): float(o["t_exptime"]) for o in observations}
    files: list[LightCurveFile] = []
    if observations:
        for row in mast.query_products(list(cadences)):
            if _is_light_curve(row, kinds) or _is_hlsp_light_curve(row, hlsps):
                file = _to_file(mission, row, by_name, cadences.get(str(row["obsID"]), 0.0))
                if file is not None:
                    files.append(file)
    found = {f.target_id for f in files}
    not_found = () if batch.released else tuple(sorted(t for t in batch.targets if t.target_id not in found))
    return Listing(batch=batch, files=tuple(sorted(files, key=lambda f: f.source_key)), not_found=not_found,
                   observations=len(observations))


def _observations(mission: Mission, kinds: tuple[ProductKind, ...], names: list[str],
                  released: ReleaseWindow | None, mast: MastClient) -> list[dict[str, Any]]:
    cadences = {k.cadence_s for k in kinds}
    # t_exptime is continuous: a single value is silently ignored, so a range is sent and matched exactly here
    criteria: dict[str, Any] = {"obs_collection": mission.collection, "target_name": names,
                                "t_exptime": [min(cadences) - 1, max(cadences) + 1]}
    if released is not None:
        criteria["t_obs_release"] = [mjd(released.start), mjd(released.end)]
    rows = mast.query_observations(**criteria)
    return [row for row in rows
            if row["obs_collection"] == mission.collection and row["t_exptime"] in cadences
            and (released is None or _released_in(row, released))]


def _hlsp_observations(mission: Mission, hlsps: tuple[HlspProduct, ...], names: list[str],
                       released: ReleaseWindow | None, mast: MastClient) -> list[dict[str, Any]]:
    """The HLSP observations of these targets, of the products asked for: one query for all of them."""
    provenances = sorted(p.name for p in hlsps)
    criteria: dict[str, Any] = {"obs_collection": HLSP_COLLECTION, "project": mission.name,
                                "provenance_name": provenances, "target_name": names}
    if released is not None:
        criteria["t_obs_release"] = [mjd(released.start), mjd(released.end)]
    rows = mast.query_observations(**criteria)
    return [row for row in rows
            if row["obs_collection"] == HLSP_COLLECTION and row["provenance_name"] in provenances
            and (released is None or _released_in(row, released))]


def _is_hlsp_light_curve(row: dict[str, Any], hlsps: tuple[HlspProduct, ...]) -> bool:
    """A light curve of one of the HLSPs asked for: its dataURI in the product's folder, its name ending as the
    product's light curves do (an observation also lists target pixel files and previews)."""
    uri, name = str(row["dataURI"] or "").lower(), str(row["productFilename"] or "")
    return any(uri.startswith(p.data_uri_prefix.lower()) and name.endswith(p.suffix) for p in hlsps)


def _released_in(row: dict[str, Any], window: ReleaseWindow) -> bool:
    """MAST's ranges include both ends; a window is ``[start, end)``."""
    released = row["t_obs_release"]
    return released is not None and mjd(window.start) <= float(released) < mjd(window.end)


def _is_light_curve(row: dict[str, Any], kinds: tuple[ProductKind, ...]) -> bool:
    """A product of one of the kinds' subgroups whose file name ends as theirs do. Other products of the subgroup
    (a Kepler target's ``.tar`` bundle of all its quarters) are skipped, and said so."""
    subgroup_kinds = [k for k in kinds if row["productSubGroupDescription"] == k.subgroup]
    if not subgroup_kinds:
        return False
    name = str(row["productFilename"] or "")
    if not any(name.endswith(k.suffix) for k in subgroup_kinds):
        log.info("Skipping %s: not a single light curve (%s)", name, row["dataURI"])
        return False
    return True


def _to_file(mission: Mission, row: dict[str, Any], by_name: dict[str, Target], cadence_s: float
             ) -> LightCurveFile | None:
    data_uri = str(row["dataURI"])
    try:
        key = mission.key_from_data_uri(data_uri)
        info = mission.parse_key(key)
    except InvalidInputError as err:
        log.warning("Skipping a product MAST listed with an unusable dataURI: %s", err)
        return None
    target = by_name.get(mission.mast_target_name(info.target_id))
    if target is None:
        log.warning("Skipping %s: MAST listed it for a target not in this batch", data_uri)
        return None
    return LightCurveFile(
        mission=mission.name, target_id=target.target_id, target=mission.label(target), unit=info.unit,
        source_key=key, data_uri=data_uri, mast_size=_product_size(row, data_uri), obs_id=str(row["obs_id"]),
        obsid=str(row["obsID"]), product_filename=key.rsplit("/", 1)[-1], product=info.product or mission.own_product,
        cadence_s=cadence_s or mission.cadence_of_key(key))


def _product_size(row: dict[str, Any], data_uri: str) -> int:
    """The product's size in bytes: a file is verified against it, so a missing or odd one is an error.

    (Not a skip: the target would then count as complete without its file.)
    """
    value = row["size"]
    try:
        size = int(value) if value is not None and float(value) == int(value) else -1
    except (TypeError, ValueError, OverflowError):
        size = -1
    if size <= 0:
        raise ServiceReplyError(f"MAST product {data_uri} has no usable size ({value!r})")
    return size
