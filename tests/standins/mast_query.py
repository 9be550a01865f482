"""MAST Portal services over a :class:`Universe`: rows, filters, paging, columns config.

Reply shapes follow astroquery's recorded real replies (``astroquery/mast/tests/data``:
``caom.json``, ``products.json``, ``columnsconfig.json``), with each mission's values.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from .universe import Observation, Product, Universe

# Field order of caom.json, plus intentType, provenance_name and sequence_number which today's MAST also returns.
CAOM_FIELDS: tuple[tuple[str, str], ...] = (
    ("intentType", "string"), ("obs_collection", "string"), ("provenance_name", "string"),
    ("dataproduct_type", "string"), ("instrument_name", "string"), ("project", "string"),
    ("filters", "string"), ("wavelength_region", "string"), ("target_name", "string"),
    ("target_classification", "string"), ("obs_id", "string"), ("s_ra", "float"), ("s_dec", "float"),
    ("proposal_id", "string"), ("proposal_pi", "string"), ("calib_level", "int"), ("t_min", "float"),
    ("t_max", "float"), ("t_exptime", "float"), ("em_min", "float"), ("em_max", "float"),
    ("obs_title", "string"), ("t_obs_release", "float"), ("s_region", "string"), ("jpegURL", "string"),
    ("dataURL", "string"), ("obsid", "string"), ("objID", "string"), ("distance", "float"),
    ("sequence_number", "int"), ("_selected_", "boolean"),
)
# Field order of products.json.
PRODUCT_FIELDS: tuple[tuple[str, str], ...] = (
    ("obsID", "string"), ("obs_collection", "string"), ("dataproduct_type", "string"), ("obs_id", "string"),
    ("description", "string"), ("type", "string"), ("dataURI", "string"), ("productType", "string"),
    ("productGroupDescription", "string"), ("productSubGroupDescription", "string"),
    ("productDocumentationURL", "string"), ("project", "string"), ("prvversion", "string"),
    ("productFilename", "string"), ("size", "int"), ("_selected_", "boolean"),
)
_FILTERABLE = {name for name, _ in CAOM_FIELDS if name != "_selected_"}


class ServiceError(Exception):
    """A problem MAST reports as ``{"status": "ERROR", "msg": ...}``."""


# Columns whose values depend on the mission (as real MAST rows of each collection give them).
_MISSION_COLUMNS: dict[str, dict[str, Any]] = {
    "K2": {"obs_collection": "K2", "provenance_name": "K2", "instrument_name": "Kepler", "project": "K2",
           "filters": "KEPLER", "proposal_pi": "Howell, Steve B.", "calib_level": 2, "em_min": 420.0, "em_max": 900.0},
    "Kepler": {"obs_collection": "Kepler", "provenance_name": "Kepler", "instrument_name": "Kepler",
               "project": "Kepler", "filters": "KEPLER", "proposal_pi": "Borucki, William J.", "calib_level": 2,
               "em_min": 420.0, "em_max": 900.0},
    "TESS": {"obs_collection": "TESS", "provenance_name": "SPOC", "instrument_name": "Photometer", "project": "TESS",
             "filters": "TESS", "proposal_pi": "Ricker, George", "calib_level": 3, "em_min": 600.0, "em_max": 1000.0},
}
_SCIENCE_SUBGROUPS = frozenset({"LLC", "SLC", "LC", "FAST-LC"})
# HLSP rows: obs_collection HLSP, the mission as project, the product as provenance_name, its team's PI, level 4.
_HLSP_PIS = {"QLP": "Huang, Chelsea X.", "TESS-SPOC": "Caldwell, Douglas A.", "K2SFF": "Vanderburg, Andrew",
             "EVEREST": "Luger, Rodrigo"}


def _columns(mission: str, provenance: str) -> dict[str, Any]:
    """The mission's column values; for an HLSP, the HLSP's."""
    values = _MISSION_COLUMNS[mission]
    if not provenance:
        return values
    return {**values, "obs_collection": "HLSP", "provenance_name": provenance, "proposal_pi": _HLSP_PIS[provenance],
            "calib_level": 4}


def observation_row(obs: Observation) -> dict[str, Any]:
    values = _columns(obs.mission, obs.provenance)
    proposal_id = "N/A" if obs.provenance else {"K2": f"GO{obs.unit}001", "Kepler": "EX"}.get(obs.mission, "N/A")
    return {
        "intentType": "science", "obs_collection": values["obs_collection"],
        "provenance_name": values["provenance_name"], "dataproduct_type": "timeseries",
        "instrument_name": values["instrument_name"], "project": values["project"], "filters": values["filters"],
        "wavelength_region": "Optical", "target_name": obs.target_name, "target_classification": "",
        "obs_id": obs.obs_id, "s_ra": obs.ra, "s_dec": obs.dec, "proposal_id": proposal_id,
        "proposal_pi": values["proposal_pi"], "calib_level": values["calib_level"], "t_min": obs.t_min,
        "t_max": obs.t_max, "t_exptime": obs.t_exptime, "em_min": values["em_min"], "em_max": values["em_max"],
        "obs_title": "", "t_obs_release": obs.t_obs_release,
        "s_region": f"CIRCLE ICRS {obs.ra:.6f} {obs.dec:.6f} 0.00138889", "jpegURL": None, "dataURL": obs.data_url,
        "obsid": int(obs.obsid), "objID": int(obs.obsid) + 7000000000, "distance": 0.0, "_selected_": None,
    }


def filtered_row(obs: Observation) -> dict[str, Any]:
    """The observation's ``Mast.Caom.Filtered`` row: :func:`observation_row` and its ``sequence_number`` (sector or
    campaign; MAST gives Kepler's none)."""
    return {**observation_row(obs), "sequence_number": None if obs.mission == "Kepler" else obs.unit}


def product_row(product: Product) -> dict[str, Any]:
    science = product.subgroup in _SCIENCE_SUBGROUPS
    values = _columns(product.mission, product.provenance)
    return {
        "obsID": int(product.obsid), "obs_collection": values["obs_collection"], "dataproduct_type": "timeseries",
        "obs_id": product.obs_id, "description": product.description, "type": "S",
        "dataURI": product.data_uri, "productType": "SCIENCE",
        "productGroupDescription": "Minimum Recommended Products" if science else None,
        "productSubGroupDescription": product.subgroup, "productDocumentationURL": None,
        "project": values["project"], "prvversion": None, "productFilename": product.filename,
        "size": product.size, "_selected_": None,
    }


def caom_filtered(universe: Universe, params: dict[str, Any],
                  release_cutoff_mjd: float | None = None) -> tuple[list[dict], tuple]:
    """``Mast.Caom.Filtered``: ``{columns, filters: [{paramName, values, [separator, freeText]}]}``.

    Observations released after ``release_cutoff_mjd`` are not listed (MAST lists nothing before release).
    """
    rows = [filtered_row(o) for o in _released(universe, release_cutoff_mjd)]
    for spec in params.get("filters") or []:
        rows = [r for r in rows if _matches(spec, r)]
    return _select_columns(rows, params.get("columns", "*"))


def caom_products(universe: Universe, params: dict[str, Any],
                  release_cutoff_mjd: float | None = None) -> tuple[list[dict], tuple]:
    """``Mast.Caom.Products``: ``{obsid: "id1,id2,..."}`` -> products in the order asked."""
    wanted = [x.strip() for x in str(params.get("obsid", "")).split(",") if x.strip()]
    if not wanted:
        raise ServiceError("Parameter 'obsid' is required.")
    by_obsid = {o.obsid: o.products for o in _released(universe, release_cutoff_mjd)}
    rows = [product_row(p) for obsid in dict.fromkeys(wanted) for p in by_obsid.get(obsid, ())]
    return rows, PRODUCT_FIELDS


def _released(universe: Universe, cutoff: float | None) -> list[Observation]:
    return [o for o in universe.mast_observations if cutoff is None or o.t_obs_release <= cutoff]


def paged_reply(rows: list[dict], fields: tuple, pagesize: int, page: int) -> dict[str, Any]:
    """The ``COMPLETE`` envelope with one page of rows and MAST's ``paging`` block."""
    pagesize = max(1, int(pagesize))
    page = max(1, int(page))
    chunk = rows[(page - 1) * pagesize: page * pagesize]
    return {
        "status": "COMPLETE",
        "msg": "",
        "data": chunk,
        "fields": [{"name": name, "type": kind} for name, kind in fields],
        "paging": {"page": page, "pageSize": pagesize, "pagesFiltered": math.ceil(len(rows) / pagesize),
                   "rows": len(chunk), "rowsFiltered": len(rows), "rowsTotal": len(rows)},
    }


def columns_config(config_id: str) -> dict[str, Any]:
    """The ``columnsconfig`` reply for ``Mast.Caom.*`` ({} for anything else, as MAST does)."""
    if config_id.startswith("Mast.Caom.Products"):
        return _derived_config(PRODUCT_FIELDS)
    if config_id.startswith("Mast.Caom."):
        return json.loads(_caom_config_text())
    return {}


@lru_cache(maxsize=1)
def _caom_config_text() -> str:
    """astroquery's recorded ``Mast.Caom.Cone`` config, plus ``provenance_name`` and ``sequence_number``."""
    import astroquery.mast

    recorded = Path(astroquery.mast.__file__).parent / "tests" / "data" / "columnsconfig.json"
    config = json.loads(recorded.read_text()) if recorded.exists() else _derived_config(CAOM_FIELDS)
    config.setdefault("provenance_name", {"text": "Provenance Name", "vot.datatype": "char",
                                          "vot.description": "Provenance name, or source of data"})
    config.setdefault("sequence_number", {"text": "Sequence Number", "vot.datatype": "int",
                                          "vot.description": "Sequence number, e.g. Kepler quarter or TESS sector"})
    return json.dumps(config)


def _derived_config(fields: tuple) -> dict[str, Any]:
    vot = {"string": "char", "float": "double", "int": "int", "boolean": "boolean"}
    return {name: {"text": name, "vot.datatype": vot[kind]} for name, kind in fields}


def _select_columns(rows: list[dict], columns: str) -> tuple[list[dict], tuple]:
    if not columns or columns.strip() == "*":
        return rows, CAOM_FIELDS
    names = [c.strip() for c in columns.split(",") if c.strip()]
    unknown = [n for n in names if n not in _FILTERABLE]
    if unknown:
        raise ServiceError(f"Invalid column(s) requested: {', '.join(unknown)}")
    fields = tuple((n, k) for n, k in CAOM_FIELDS if n in names)
    return [{n: r[n] for n, _ in fields} for r in rows], fields


def _matches(spec: dict[str, Any], row: dict[str, Any]) -> bool:
    name = spec.get("paramName")
    if name not in _FILTERABLE:
        raise ServiceError(f"Filter column '{name}' is not a valid column for this service.")
    values = spec.get("values") or []
    cell = row[name]
    if values and all(isinstance(v, dict) for v in values):
        return cell is not None and any(float(v["min"]) <= float(cell) <= float(v["max"]) for v in values)
    return _matches_discrete(cell, values, spec.get("separator"), spec.get("freeText"))


def _matches_discrete(cell: Any, values: list, separator: str | None, free_text: str | None) -> bool:
    if not values and not free_text:
        return True
    parts = [p.strip().lower() for p in (str(cell).split(separator) if separator else [str(cell)])]
    if any(str(v).lower() in parts for v in values):
        return True
    if free_text:
        pattern = re.compile(re.escape(free_text.lower()).replace("%", ".*").replace("_", "."))
        return any(pattern.fullmatch(p) for p in parts)
    return False
