"""K2 hosts (EPIC ids, campaigns), their LLC files and MAST observations.

Its random sequence and obsid numbering are frozen: a committed fixture and the benchmarks
depend on the exact hosts, files and bytes it gives for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from .fits_factory import llc_size
from .records import Host, LightCurveFile, Observation, Planet, Product, light_curve_rows

# K2 campaigns as they appear in file names: 9, 10 and 11 were split in two.
K2_CAMPAIGNS: tuple[int, ...] = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 91, 92, 101, 102, 111, 112, 12, 13, 14, 15, 16, 17, 18, 19,
)
LC_EXPTIME = 1800.0
SC_EXPTIME = 60.0
MAST_PREFIX = "mast:K2/url/missions/k2/"
BUCKET_PREFIX = "k2/public/"
_CAMPAIGN0_MJD = 56728.0  # 2014-03-12
REAL_ROWS = (3400, 3950)  # fewest and most LIGHTCURVE rows of real LLC files (0.37-0.42 MB)


def campaign_folder(campaign: int) -> str:
    """Folder name in the bucket: ``c3``, ``c102``."""
    return f"c{campaign}"


def campaign_tag(campaign: int) -> str:
    """Campaign in a file name: ``c03``, ``c102``."""
    return f"c{campaign:02d}"


def k2_relative_path(kind: str, epic_id: int, campaign: int, suffix: str) -> str:
    """``lightcurves/c3/2060000/89000/ktwo206089508-c03_llc.fits`` (kind='lightcurves')."""
    epic = f"{epic_id:09d}"
    return (f"{kind}/{campaign_folder(campaign)}/{epic[:4]}00000/{epic[4:6]}000/"
            f"ktwo{epic}-{campaign_tag(campaign)}_{suffix}")


def bucket_key(relative_path: str) -> str:
    return BUCKET_PREFIX + relative_path


def mast_uri(relative_path: str) -> str:
    return MAST_PREFIX + relative_path


def build_k2(n_hosts: int, seed: int, start: date, days: int, fits_rows: int | None,
             unknown_to_mast: int) -> tuple[list[Host], list[Observation]]:
    """K2's part of :func:`~tests.standins.universe.build_universe` (see its docstring)."""
    rng = random.Random(seed)
    epics = rng.sample(range(201000000, 252000000), n_hosts + unknown_to_mast)
    k2_numbers = sorted(rng.sample(range(1, 400), n_hosts + unknown_to_mast))
    obsids = iter(range(9500000000 + seed * 100000, 9600000000))
    hosts: list[Host] = []
    observations: list[Observation] = []
    for i in range(n_hosts + unknown_to_mast):
        known = i < n_hosts
        host, host_obs = _build_host(i, epics[i], k2_numbers[i], known, rng, start, days, fits_rows, obsids)
        hosts.append(host)
        observations.extend(host_obs)
    return hosts, observations


def _build_host(i: int, epic_id: int, k2_number: int, known: bool, rng: random.Random, start: date,
                days: int, fits_rows: int | None, obsids: Iterator[int]) -> tuple[Host, list[Observation]]:
    ra, dec = rng.uniform(0.0, 360.0), rng.uniform(-30.0, 30.0)
    planets, hostname = _build_planets(i, epic_id, k2_number, known, rng, start, days)
    campaigns = tuple(sorted(rng.sample(K2_CAMPAIGNS, rng.randint(2, 4)), key=K2_CAMPAIGNS.index))
    observations: list[Observation] = []
    files: list[LightCurveFile] = []
    if known:
        for n, campaign in enumerate(campaigns):
            rows = light_curve_rows(rng, fits_rows, REAL_ROWS)
            lc = _lc_observation(epic_id, campaign, ra, dec, rows, str(next(obsids)))
            observations.append(lc)
            files.append(_llc_file(lc, rows))
            if i % 3 == 0 and n == 0:
                observations.append(_sc_observation(epic_id, campaign, ra, dec, rows, str(next(obsids))))
    host = Host("K2", epic_id, hostname, round(ra, 6), round(dec, 6), planets, campaigns, tuple(files), known)
    return host, observations


def _build_planets(i: int, epic_id: int, k2_number: int, known: bool, rng: random.Random, start: date,
                   days: int) -> tuple[tuple[Planet, ...], str]:
    negative = known and i % 10 in (3, 7)

    def when(j: int) -> tuple[date, date]:
        offset = (1 + j) % days if negative else (i + j) % days
        rowupdate = start + timedelta(days=offset)
        return rowupdate, rowupdate - timedelta(days=rng.randint(30, 900))

    if negative:
        disposition = "CANDIDATE" if i % 10 == 3 else "FALSE POSITIVE"
        count = 1 if disposition == "FALSE POSITIVE" else rng.randint(1, 2)
        planets = tuple(Planet(f"EPIC {epic_id}.{j + 1:02d}", disposition, *when(j)) for j in range(count))
        return planets, f"EPIC {epic_id}"
    hostname = f"K2-{k2_number}"
    confirmed = [Planet(f"{hostname} {'bcd'[j]}", "CONFIRMED", *when(j)) for j in range(rng.randint(1, 3))]
    if rng.random() < 0.25:
        confirmed.append(Planet(f"EPIC {epic_id}.0{len(confirmed) + 1}", "CANDIDATE", *when(len(confirmed))))
    return tuple(confirmed), hostname


def _campaign_mjd(campaign: int) -> tuple[float, float]:
    t_min = _CAMPAIGN0_MJD + 82.0 * K2_CAMPAIGNS.index(campaign)
    return t_min, t_min + 78.0


def _llc_file(lc: Observation, rows: int) -> LightCurveFile:
    path = k2_relative_path("lightcurves", lc.target_id, lc.unit, "llc.fits")
    return LightCurveFile("K2", lc.target_id, lc.unit, lc.obsid, bucket_key(path), mast_uri(path), llc_size(rows),
                          rows, "lc", lc.t_obs_release)


def _observation(obsid: str, obs_id: str, epic_id: int, campaign: int, exptime: float, ra: float, dec: float,
                 data_url: str, products: tuple[Product, ...]) -> Observation:
    t_min, t_max = _campaign_mjd(campaign)
    return Observation(obsid, obs_id, epic_id, campaign, exptime, ra, dec, t_min, t_max, data_url, products,
                       "K2", t_max + 90.0)


def _lc_observation(epic_id: int, campaign: int, ra: float, dec: float, rows: int, obsid: str) -> Observation:
    obs_id = f"ktwo{epic_id}-{campaign_tag(campaign)}_lc"
    llc = k2_relative_path("lightcurves", epic_id, campaign, "llc.fits")
    tpf = k2_relative_path("target_pixel_files", epic_id, campaign, "lpd-targ.fits.gz")
    products = (
        Product(obsid, obs_id, llc.rsplit("/", 1)[1], mast_uri(llc), "LLC",
                "Lightcurve Long Cadence (CLC) - K2", llc_size(rows)),
        Product(obsid, obs_id, tpf.rsplit("/", 1)[1], mast_uri(tpf), "TPF",
                "Target Pixel Long Cadence (TPL) - K2", 40 * llc_size(rows) // 7),
    )
    return _observation(obsid, obs_id, epic_id, campaign, LC_EXPTIME, ra, dec, mast_uri(llc), products)


def _sc_observation(epic_id: int, campaign: int, ra: float, dec: float, rows: int, obsid: str) -> Observation:
    obs_id = f"ktwo{epic_id}-{campaign_tag(campaign)}_sc"
    slc = k2_relative_path("lightcurves", epic_id, campaign, "slc.fits")
    tpf = k2_relative_path("target_pixel_files", epic_id, campaign, "spd-targ.fits.gz")
    products = (
        Product(obsid, obs_id, slc.rsplit("/", 1)[1], mast_uri(slc), "SLC",
                "Lightcurve Short Cadence (CSC) - K2", 30 * llc_size(rows)),
        Product(obsid, obs_id, tpf.rsplit("/", 1)[1], mast_uri(tpf), "TPF",
                "Target Pixel Short Cadence (TPS) - K2", 170 * llc_size(rows)),
    )
    return _observation(obsid, obs_id, epic_id, campaign, SC_EXPTIME, ra, dec, mast_uri(slc), products)
