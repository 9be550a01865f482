"""The high-level science products (HLSPs) a mission's DAG may copy besides its pipeline's own light curves.

MAST lists them with ``obs_collection`` ``HLSP``, the mission as ``project`` and the product as
``provenance_name``; their dataURIs are ``mast:HLSP/<folder>/<path>`` and the public bucket, where it holds them,
keeps them under ``mast/hlsp/<folder>/<path>``: the destination mirrors that key. Each product's path is checked
whole against its pattern before anything is read or written; the pattern's ``unit`` and ``id`` groups name the
sector or campaign and the star, and the folders ``f1``, ``f2``... must spell the star's id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lightcurve_ingest.errors import InvalidInputError

HLSP_COLLECTION = "HLSP"
HLSP_DATA_URI_PREFIX = "mast:HLSP/"
HLSP_KEY_PREFIX = "mast/hlsp/"


def ffi_cadence_s(sector: int) -> float:
    """The full-frame images' cadence of a TESS sector: 30 minutes to sector 26, 10 to 55, 200 s from 56."""
    return 1800.0 if sector <= 26 else 600.0 if sector <= 55 else 200.0


def k2_cadence_s(campaign: int) -> float:
    """K2's long cadence, the only one the K2 HLSPs here come in."""
    return 1800.0


@dataclass(frozen=True)
class HlspProduct:
    """One HLSP: its provenance name, where its files are, their cadence, and the format they are read with."""

    name: str  # MAST's provenance_name, as users and lightkurve's ``author=`` write it: "QLP", "K2SFF"
    project: str  # MAST's project: "TESS", "K2"
    folder: str  # "qlp": its dataURIs are mast:HLSP/qlp/..., its keys mast/hlsp/qlp/...
    path: re.Pattern[str]  # the path below the folder, whole; groups unit, id and the folders f1, f2...
    suffix: str  # how its light curves' file names end (an observation may list other files: target pixels)
    cadence_s: Callable[[int], float]  # by sector or campaign
    description: str  # for the params' documentation
    shard_depth: int  # folder levels below a unit's prefix that make one shard of a mirror run (as the mission's)
    obs_id_end: str = ""  # the end of its observation's obs_id in place of the file's suffix ("" : the name less .fits)
    version_folder: str = ""  # a folder above the units ("v2/": EVEREST's version 2)

    @property
    def data_uri_prefix(self) -> str:
        return f"{HLSP_DATA_URI_PREFIX}{self.folder}/"

    @property
    def key_prefix(self) -> str:
        return f"{HLSP_KEY_PREFIX}{self.folder}/"

    def parse_relative_path(self, relative_path: str, field: str) -> tuple[int, int]:
        """The star's id and the unit of a path below the product's folder; anything but its pattern is refused."""
        match = self.path.fullmatch(relative_path) if isinstance(relative_path, str) else None
        if match is None:
            raise InvalidInputError(field, f"{relative_path!r} is not the path of a {self.name} light curve")
        folders = "".join(value for name, value in sorted(match.groupdict().items()) if name.startswith("f"))
        if folders != match.group("id"):
            raise InvalidInputError(field, f"{relative_path!r}: its folders do not match the star's id "
                                           f"{int(match.group('id'))}")
        return int(match.group("id")), int(match.group("unit"))

    def obs_id_of_key(self, key: str) -> str:
        """MAST's ``obs_id`` of the observation a key's file belongs to: TESS-SPOC's light curve is a product of
        its ``..._tp`` observation, the others' obs_id is the file's name without ``.fits``."""
        name = key.rsplit("/", 1)[-1]
        return name[:-len(self.suffix)] + self.obs_id_end if self.obs_id_end else name.removesuffix(".fits")

    def unit_prefix(self, unit: int) -> str:
        """The public-bucket prefix of one unit's files (a mirror run lists it)."""
        return f"{self.key_prefix}{self.unit_folder(unit)}/"

    def unit_folder(self, unit: int) -> str:
        """``s0024`` (TESS), ``c01``/``c91`` (K2; EVEREST's below its version folder, ``v2/c01``)."""
        return f"s{unit:04d}" if self.project == "TESS" else f"{self.version_folder}c{unit:02d}"


def _tess_path(folder_prefix: str, file_name: str) -> re.Pattern[str]:
    """s<sector>/[<folder_prefix>]<TIC16 in four folders of four>/<file name>."""
    return re.compile(rf"s(?P<unit>[0-9]{{4}})/{folder_prefix}(?P<f1>[0-9]{{4}})/(?P<f2>[0-9]{{4}})/"
                      rf"(?P<f3>[0-9]{{4}})/(?P<f4>[0-9]{{4}})/{file_name}")


def _k2_path(version_folder: str, file_name: str) -> re.Pattern[str]:
    """[<version_folder>]c<campaign>/<EPIC[:4]>00000/<EPIC[4:]>/<file name>."""
    return re.compile(rf"{version_folder}c(?P<unit>[0-9]{{2,3}})/(?P<f1>[0-9]{{4}})00000/(?P<f2>[0-9]{{5}})/"
                      rf"{file_name}")


QLP = HlspProduct(
    name="QLP", project="TESS", folder="qlp", suffix="_llc.fits", cadence_s=ffi_cadence_s,
    path=_tess_path("", r"hlsp_qlp_tess_ffi_s(?P=unit)-(?P<id>[0-9]{16})_tess_v01_llc\.fits"),
    description="MIT's Quick-Look Pipeline, from full-frame images", shard_depth=2)
TESS_SPOC = HlspProduct(
    name="TESS-SPOC", project="TESS", folder="tess-spoc", suffix="_lc.fits", cadence_s=ffi_cadence_s,
    path=_tess_path("target/", r"hlsp_tess-spoc_tess_phot_(?P<id>[0-9]{16})-s(?P=unit)_tess_v1_lc\.fits"),
    description="SPOC's pipeline on full-frame-image targets", shard_depth=3, obs_id_end="_tp")
K2SFF = HlspProduct(
    name="K2SFF", project="K2", folder="k2sff", suffix="_llc.fits", cadence_s=k2_cadence_s,
    path=_k2_path("", r"hlsp_k2sff_k2_lightcurve_(?P<id>[0-9]{9})-c(?P=unit)_kepler_v1_llc\.fits"),
    description="Vanderburg & Johnson's self-flat-fielded light curves", shard_depth=1)
EVEREST = HlspProduct(
    name="EVEREST", project="K2", folder="everest", suffix="_lc.fits", cadence_s=k2_cadence_s, version_folder="v2/",
    path=_k2_path("v2/", r"hlsp_everest_k2_llc_(?P<id>[0-9]{9})-c(?P=unit)_kepler_v2\.0_lc\.fits"),
    description="Luger et al.'s pixel-level-decorrelated light curves, version 2", shard_depth=1)
