"""High-level science products (HLSPs): community light curves of the TESS and K2 stars, as MAST lists and serves
them. Only in a universe built with ``hlsps=True`` (:func:`~tests.standins.universe.build_universe`).

MAST lists each as an observation of ``obs_collection`` ``HLSP``, ``project`` ``TESS`` or ``K2``,
``provenance_name`` one of :data:`PROVENANCES`, ``target_name`` that of the mission's own observations of the star
(TIC id as a plain number, ``ktwo`` + 9-digit EPIC) and ``sequence_number`` the sector or campaign. Its products'
rows have ``productSubGroupDescription`` "" and ``productType`` SCIENCE. Names, ``obs_id`` and ``dataURI`` (see
:func:`data_uri`, :func:`obs_id`) are MAST's:

* QLP: ``mast:HLSP/qlp/s0024/0000/0000/3990/3405/hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits``,
  obs_id the file name without ``.fits``.
* TESS-SPOC: ``mast:HLSP/tess-spoc/s0024/target/0000/0000/3990/3405/`` +
  ``hlsp_tess-spoc_tess_phot_0000000039903405-s0024_tess_v1_lc.fits``; the observation is the target pixel file's
  (obs_id ``..._tp``) and lists the ``_tp.fits`` too, which a light-curve copier must skip.
* K2SFF: ``mast:HLSP/k2sff/c91/221300000/12395/hlsp_k2sff_k2_lightcurve_221312395-c91_kepler_v1_llc.fits``.
* EVEREST: ``mast:HLSP/everest/v2/c01/201300000/67065/hlsp_everest_k2_llc_201367065-c01_kepler_v2.0_lc.fits``.

Cadence (``t_exptime``): TESS's from full-frame images (:func:`ffi_exptime`: 1800 s in sectors 1-26, 600 s in
27-55, 200 s from 56), K2's 1800 s.

Which stars have which: every TESS host a QLP light curve in each of its sectors and a TESS-SPOC one in every other
(:func:`tess_spoc_sectors`); one more TESS host, :data:`~.missions_tess.FFI_ONLY_TOI`, has no SPOC observation at
all, only these; every K2 host known to MAST a K2SFF and an EVEREST light curve in each of its campaigns.

Where they are (:func:`in_public_bucket`): MAST's download service serves every one; the public bucket holds, at
:func:`bucket_key` (``mast/hlsp/`` + the dataURI's path after ``mast:HLSP/``), only every QLP file of sectors up to
:data:`QLP_BUCKET_LAST_SECTOR` and every K2SFF file, no TESS-SPOC and no EVEREST file. MAST's ``path_lookup``
knows none of them (it answered so for HLSPs in 2024: github.com/spacetelescope/tike_content issue 45), so the
pipeline must look in the bucket itself.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

from . import missions_k2
from .fits_factory import tess_spoc_size
from .hlsp_fits import K2SFF_DROP_EVERY, everest_size, k2sff_size, qlp_orbit_gap, qlp_size
from .missions_tess import build_ffi_only_host
from .records import HlspFile, Host, LightCurveFile, Observation, Product, light_curve_rows
from .timeline import sector_mjd

QLP, TESS_SPOC, K2SFF, EVEREST = "QLP", "TESS-SPOC", "K2SFF", "EVEREST"
PROVENANCES = (QLP, TESS_SPOC, K2SFF, EVEREST)
PROJECTS = {QLP: "TESS", TESS_SPOC: "TESS", K2SFF: "K2", EVEREST: "K2"}
HLSP_COLLECTION = "HLSP"
MAST_PREFIX = "mast:HLSP/"
BUCKET_PREFIX = "mast/hlsp/"
QLP_BUCKET_LAST_SECTOR = 26  # the bucket holds QLP files up to this sector; MAST's download service the rest
K2_EXPTIME = 1800.0
# LIGHTCURVE rows of a real full-frame-image light curve of one sector, by cadence (the genuine S24 files: 1271)
FFI_REAL_ROWS = {1800.0: (1200, 1320), 600.0: (3600, 3960), 200.0: (10800, 11880)}
_OBSIDS_FROM = 9_900_000_000
_TP_SIZE_FACTOR = 12  # a TESS-SPOC target pixel file against its light curve


def ffi_exptime(sector: int) -> float:
    """Seconds between full-frame images in ``sector``: 1800 in sectors 1-26, 600 in 27-55, 200 from 56."""
    return 1800.0 if sector <= 26 else 600.0 if sector <= 55 else 200.0


def in_public_bucket(provenance: str, unit: int) -> bool:
    """The one rule of what the public bucket holds: every QLP file of sectors up to :data:`QLP_BUCKET_LAST_SECTOR`
    and every K2SFF file; no TESS-SPOC, no EVEREST, no later QLP file (MAST's download service serves those)."""
    return provenance == K2SFF or (provenance == QLP and unit <= QLP_BUCKET_LAST_SECTOR)


def tess_spoc_sectors(sectors: tuple[int, ...]) -> tuple[int, ...]:
    """The sectors of a TESS host that have a TESS-SPOC light curve: every other one, from the first."""
    return tuple(sectors[::2])


def file_name(provenance: str, target_id: int, unit: int) -> str:
    """The light curve's file name, e.g. ``hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits``."""
    return obs_id(provenance, target_id, unit).removesuffix("_tp") + ("_lc.fits" if provenance == TESS_SPOC
                                                                        else ".fits")


def obs_id(provenance: str, target_id: int, unit: int) -> str:
    """MAST's obs_id of the HLSP observation (TESS-SPOC: the target pixel file's, ``..._tp``)."""
    if provenance == QLP:
        return f"hlsp_qlp_tess_ffi_s{unit:04d}-{target_id:016d}_tess_v01_llc"
    if provenance == TESS_SPOC:
        return f"hlsp_tess-spoc_tess_phot_{target_id:016d}-s{unit:04d}_tess_v1_tp"
    if provenance == K2SFF:
        return f"hlsp_k2sff_k2_lightcurve_{target_id:09d}-{missions_k2.campaign_tag(unit)}_kepler_v1_llc"
    return f"hlsp_everest_k2_llc_{target_id:09d}-{missions_k2.campaign_tag(unit)}_kepler_v2.0_lc"


def folder(provenance: str, target_id: int, unit: int) -> str:
    """The path of the file's folder under ``mast:HLSP/`` (and ``mast/hlsp/`` in the bucket)."""
    if provenance in (QLP, TESS_SPOC):
        tic = f"{target_id:016d}"
        target = "target/" if provenance == TESS_SPOC else ""
        return f"{provenance.lower()}/s{unit:04d}/{target}{tic[0:4]}/{tic[4:8]}/{tic[8:12]}/{tic[12:16]}"
    epic = f"{target_id:09d}"
    version = "v2/" if provenance == EVEREST else ""
    return f"{provenance.lower()}/{version}{missions_k2.campaign_tag(unit)}/{epic[:4]}00000/{epic[4:]}"


def data_uri(provenance: str, target_id: int, unit: int) -> str:
    """The light curve's dataURI: ``mast:HLSP/`` + :func:`folder` + :func:`file_name`."""
    return f"{MAST_PREFIX}{folder(provenance, target_id, unit)}/{file_name(provenance, target_id, unit)}"


def bucket_key(uri: str) -> str:
    """Where the public bucket keeps (or would keep) an HLSP: ``mast/hlsp/`` + the dataURI's path after
    ``mast:HLSP/``."""
    if not uri.startswith(MAST_PREFIX):
        raise ValueError(f"not an HLSP dataURI: {uri}")
    return BUCKET_PREFIX + uri[len(MAST_PREFIX):]


def exptime(provenance: str, unit: int) -> float:
    """The observation's ``t_exptime`` (seconds)."""
    return ffi_exptime(unit) if PROJECTS[provenance] == "TESS" else K2_EXPTIME


def size(provenance: str, rows: int, unit: int) -> int:
    """Byte length of the light curve (without building it)."""
    if provenance == QLP:
        return qlp_size(rows)
    if provenance == TESS_SPOC:
        return tess_spoc_size(rows)
    return k2sff_size(rows) if provenance == K2SFF else everest_size(rows, unit)


# --- building ------------------------------------------------------------------------------------------------------

def build_hlsps(hosts: list[Host], seed: int, start: date, days: int,
                fits_rows: int | None) -> tuple[list[Host], list[Observation], list[HlspFile]]:
    """The HLSPs of ``hosts`` (see the module docstring), and the FFI-only TESS host appended to them. From
    generators of their own: the hosts, files and observations without HLSPs stay as they were."""
    rng = random.Random(f"hlsp-{seed}")
    obsids = iter(range(_OBSIDS_FROM + seed * 100_000, _OBSIDS_FROM + 100_000_000))
    ffi_only = build_ffi_only_host(seed, start, days, {h.target_id for h in hosts if h.mission == "TESS"})
    observations: list[Observation] = []
    files: list[HlspFile] = []
    for host in [*hosts, ffi_only]:
        for provenance, unit, rows, released in _products_of(host, rng, fits_rows):
            observation, file = _observation(host, provenance, unit, rows, released, str(next(obsids)))
            observations.append(observation)
            files.append(file)
    return [*hosts, ffi_only], observations, files


def _products_of(host: Host, rng: random.Random, fits_rows: int | None) -> Iterator[tuple[str, int, int, float]]:
    """(provenance, unit, rows, release MJD) of each of the host's HLSP light curves."""
    if host.mission == "K2":
        for llc in host.light_curves():  # none if MAST does not know the star
            yield K2SFF, llc.unit, llc.rows - llc.rows // K2SFF_DROP_EVERY, llc.released
            yield EVEREST, llc.unit, llc.rows, llc.released
    elif host.mission == "TESS":
        released = _tess_releases(host)
        spoc = tess_spoc_sectors(host.units)
        for sector in host.units:
            cadences = light_curve_rows(rng, fits_rows, FFI_REAL_ROWS[ffi_exptime(sector)])
            yield QLP, sector, cadences - qlp_orbit_gap(cadences)[1], released[sector]
            if sector in spoc:
                yield TESS_SPOC, sector, cadences, released[sector]


def _tess_releases(host: Host) -> dict[int, float]:
    """Each sector's release (MJD): its SPOC light curve's, else (an FFI-only star) a month after the sector."""
    released = {f.unit: f.released for f in host.files if isinstance(f, LightCurveFile)}
    return {s: released.get(s, round(sector_mjd(s)[1] + 30.0, 4)) for s in host.units}


def _observation(host: Host, provenance: str, unit: int, rows: int, released: float,
                 obsid: str) -> tuple[Observation, HlspFile]:
    uri = data_uri(provenance, host.target_id, unit)
    name = file_name(provenance, host.target_id, unit)
    file = HlspFile(provenance, host.mission, host.target_id, unit, obsid, obs_id(provenance, host.target_id, unit),
                    uri, bucket_key(uri), size(provenance, rows, unit), rows, exptime(provenance, unit), released,
                    in_public_bucket(provenance, unit))
    products = [Product(obsid, file.obs_id, name, uri, "", "Light curves", file.size, host.mission, provenance)]
    if provenance == TESS_SPOC:  # the observation is the target pixel file's
        tp_name = name.replace("_lc.fits", "_tp.fits")
        products.append(Product(obsid, file.obs_id, tp_name, uri.replace(name, tp_name), "", "Target pixel files",
                                _TP_SIZE_FACTOR * file.size, host.mission, provenance))
    t_min, t_max = sector_mjd(unit) if host.mission == "TESS" else missions_k2.campaign_mjd(unit)
    observation = Observation(obsid, file.obs_id, host.target_id, unit, file.exptime, host.ra, host.dec, t_min, t_max,
                              uri, tuple(products), host.mission, released, provenance)
    return observation, file
