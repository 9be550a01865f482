"""Whole observing units (K2 campaigns, TESS sectors) from the public bucket's own listing, not from MAST.

A unit's prefix (``k2/public/lightcurves/c5/``, ``tess/public/tid/s0001/``) is cut into shards at the folder
level ``Mission.shard_depth`` below it (K2 ``c5/<EPIC[:4]>00000/``, TESS ``s0001/0000/<TIC16[4:8]>/``): the plan
lists only those folders (Delimiter "/"), each shard lists its own objects. Objects that are not the mission's
light curves (short cadence, any other file under the same folders) are left alone: each key must match the
mission's key pattern exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from lightcurve_ingest.domain.missions import Mission
from lightcurve_ingest.domain.payloads import LightCurveFile, Shard, Target
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.storage.source_bucket import ListedObject, SourceBucket

log = logging.getLogger(__name__)


def plan_shards(mission: Mission, units: list[int], source: SourceBucket, max_shards: int,
                products: tuple[str, ...] = ()) -> list[Shard]:
    """The shards of every unit of every product asked for (default: the mission's own); a unit the bucket does
    not hold of a product is refused (naming the param, the product and the unit) before any listing of the
    others' folders, so nothing is copied for a run with a bad unit."""
    products = products or (mission.own_product,)
    for product in products:
        for unit in units:
            prefix = unit_prefix(mission, product, unit)
            if not source.holds_anything(prefix):
                hint = mission.missing_unit_hint(unit) if product == mission.own_product else (
                    f"; MAST's download service has {product} files the bucket lacks: ask for targets instead")
                raise InvalidInputError(mission.unit_param, f"{product} {mission.unit_name} {unit} is not in the "
                                                            f"public bucket (nothing under {prefix}){hint}")
    shards = [shard for product in products for unit in units for shard in unit_shards(mission, product, unit, source)]
    if len(shards) > max_shards:
        raise InvalidInputError(mission.unit_param, f"{len(shards)} shards are more than one run maps "
                                                    f"({max_shards}); mirror fewer {mission.unit_name}s a run")
    return shards


def unit_prefix(mission: Mission, product: str, unit: int) -> str:
    """The public-bucket prefix of one unit's files of one product."""
    return mission.unit_prefix(unit) if product == mission.own_product else mission.hlsp(product).unit_prefix(unit)


def unit_shards(mission: Mission, product: str, unit: int, source: SourceBucket) -> list[Shard]:
    """One shard a folder, the product's ``shard_depth`` levels below the unit's prefix."""
    root = unit_prefix(mission, product, unit)
    own = product == mission.own_product
    prefixes = [root]
    for _ in range(mission.shard_depth if own else mission.hlsp(product).shard_depth):
        prefixes = [folder for prefix in prefixes for folder in source.list_folders(prefix)]
    name = "" if own else f"{product} "
    return [Shard(mission=mission.name, unit=unit, prefix=prefix, product="" if own else product,
                  label=f"{name}{mission.unit_name} {unit} {prefix[len(root):].rstrip('/')}") for prefix in prefixes]


def light_curves(mission: Mission, listed: Iterable[ListedObject], labels: dict[int, Target],
                 include_fast_cadence: bool = False) -> tuple[list[LightCurveFile], int]:
    """The listed objects that are the run's light curves, as files to copy (with the star's labels where the
    archive knows it), and how many other objects were listed."""
    own_suffixes = tuple(kind.suffix for kind in mission.product_kinds(include_fast_cadence))
    files, others = [], 0
    for obj in listed:
        try:
            info = mission.parse_key(obj.key)
        except InvalidInputError:
            others += 1
            continue
        suffixes = (mission.hlsp(info.product).suffix,) if info.product else own_suffixes
        if not obj.key.endswith(suffixes) or obj.size <= 0:
            others += 1
            continue
        target = labels.get(info.target_id) or Target(target_id=info.target_id)
        obs_id = mission.hlsp(info.product).obs_id_of_key(obj.key) if info.product else mission.obs_id_of_key(obj.key)
        files.append(LightCurveFile(
            mission=mission.name, target_id=info.target_id, target=mission.label(target), unit=info.unit,
            source_key=obj.key, data_uri=mission.data_uri_of_key(obj.key), mast_size=obj.size,
            obs_id=obs_id, obsid="", product_filename=obj.key.rsplit("/", 1)[-1],
            product=info.product or mission.own_product, cadence_s=mission.cadence_of_key(obj.key)))
    return files, others
