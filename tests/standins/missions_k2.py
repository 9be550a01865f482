"""K2 hosts (EPIC ids, campaigns), their LLC files and MAST observations.

Its random sequence and obsid numbering are frozen: a committed fixture and the benchmarks
depend on the exact hosts, files and bytes it gives for a seed. The real stars (:data:`REAL_STARS`) come only when
asked for, after all generated hosts, from a generator of their own: the generated hosts stay as they were.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .fits_factory import k2_campaign_start_bkjd, llc_size
from .records import (
    Host,
    LightCurveFile,
    Observation,
    Planet,
    Product,
    drawn_ephemeris,
    light_curve_rows,
    published_ephemeris,
)
from .timeline import KEPLER_BJD_OFFSET

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
# Generated hosts' ephemerides (drawn; the real stars' are in REAL_STARS). By host index i and its first planet:
NO_EPHEMERIS_HOST = 1  # host 1's first planet: its only k2pandc row has no pl_tranmid; nothing is planted for it
EPOCH_ONLY_IN_OTHER_SOLUTION_HOST = 2  # host 2's first planet: its default row has no pl_tranmid, its second,
# non-default row (default_flag 0) has the epoch, duration and depth planted in its light curves
OTHER_SOLUTION_EVERY = 4  # hosts i % 4 == 0: the first planet also has a non-default row with slightly other values
PERIOD_RANGE = (0.5, 40.0)  # days: K2 campaigns lasted about 80 days


@dataclass(frozen=True)
class _RealStar:
    epic: int
    hostname: str
    ra: float
    dec: float
    campaigns: tuple[int, ...]
    # (pl_name, pl_orbper days, pl_tranmid BJD_TDB, pl_trandur hours, pl_trandep ppm), all CONFIRMED
    planets: tuple[tuple[str, float, float, float, float], ...]


# Real K2 hosts, appended after the generated ones by build_k2(..., real_stars=True).
# Coordinates: the archive's k2pandc ra/dec (TICv8), in an export of 2025 committed as k2pandc.csv in
# github.com/leenakwa/files-for-ai-challenge at e06dc3f573e7760fab7becff38a8d8e90ae01c53. Campaign: both were observed
# in C1 (MAST ktwo201912552-c01_llc.fits, ktwo201367065-c01_llc.fits).
# Period, epoch and Rp/R*: the archive's Crossfield et al. 2016 (ApJS 226, 7) solution for each planet, one paper for
# all four: its k2candidates rows in an export of 2018-03-13 committed as k2candidates.csv in
# github.com/christinahedges/atmosphere-charts at 2a6c60a11710a235898da62ae9e114710e97ca17 (the same periods are in
# that k2pandc export's "Crossfield et al. 2016" rows, default_flag 0; k2pandc's default rows are Sarkis et al. 2018 for
# K2-18 b and Diamond-Lowe et al. 2022 for K2-3, whose epochs, durations and depths were not found).
# Depth: (Rp/R*)^2 of that solution (that table has no depth column).
# Duration: not in that table. K2-18 b's and K2-3 b's are those of their ExoFOP-TESS TOI solutions (also k2pandc
# rows), TOI-5555.01 and TOI-5146.01 in the ExoFOP-TESS TOI list committed as data/exofop_data.csv in
# github.com/tess-atlas/exofop_data at 12f968a75770bf3a6d33b01656da44340eac9861. No published duration was found for
# K2-3 c and d: theirs are stand-in estimates, K2-3 b's scaled by (P / P_b)^(1/3) (central transits of one star).
REAL_STARS = (
    _RealStar(201912552, "K2-18", 172.560141, 7.5878315, (1,), (
        ("K2-18 b", 32.9418, 2456836.1719, 2.306, 2672.9),  # Rp/R* 0.0517
    )),
    _RealStar(201367065, "K2-3", 172.3353708, -1.4551364, (1,), (
        ("K2-3 b", 10.05443, 2456813.4178, 2.6406, 1232.0),  # Rp/R* 0.0351
        ("K2-3 c", 24.6435, 2456812.2811, 3.5603, 829.4),  # Rp/R* 0.0288; duration estimated
        ("K2-3 d", 44.5609, 2456826.2285, 4.3375, 552.2),  # Rp/R* 0.0235; duration estimated
    )),
)


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
             unknown_to_mast: int, real_stars: bool = False) -> tuple[list[Host], list[Observation]]:
    """K2's part of :func:`~tests.standins.universe.build_universe` (see its docstring); with ``real_stars``, the
    :data:`REAL_STARS` follow the generated hosts."""
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
    hosts = _with_ephemerides(hosts, seed)
    if real_stars:
        _check_free_for_real_stars(hosts, seed)
        real_rng = random.Random(f"k2-real-{seed}")  # its own: the generated hosts' draws stay as they were
        for i, star in enumerate(REAL_STARS, start=len(hosts)):
            host, host_obs = _build_real_host(i, star, real_rng, start, days, fits_rows, obsids)
            hosts.append(host)
            observations.extend(host_obs)
    return hosts, observations


def _check_free_for_real_stars(hosts: list[Host], seed: int) -> None:
    """The generated ids and names (``K2-<n>``, n drawn from 1-399) may, for some seeds and counts, take a real
    star's; the generated hosts are frozen, so such a universe cannot have the real stars."""
    taken = {h.target_id for h in hosts} | {h.hostname for h in hosts}
    clashes = [s.hostname for s in REAL_STARS if s.epic in taken or s.hostname in taken]
    if clashes:
        raise ValueError(f"seed {seed}: generated K2 hosts already use the id or name of {', '.join(clashes)}; "
                         "pick another seed or host count for real_k2")


def _build_real_host(i: int, star: _RealStar, rng: random.Random, start: date, days: int, fits_rows: int | None,
                     obsids: Iterator[int]) -> tuple[Host, list[Observation]]:
    """Host ``i`` (after the generated ones): a real star with its confirmed planets at their published
    ephemerides, its campaigns' files and observations laid out like a generated host's, dates like theirs."""
    planets = []
    for j, (name, period, epoch, duration, depth) in enumerate(star.planets):
        rowupdate = start + timedelta(days=(i + j) % days)
        planet = Planet(name, "CONFIRMED", rowupdate, rowupdate - timedelta(days=rng.randint(30, 900)))
        planets.append(published_ephemeris(planet, period, epoch, duration, depth))
    observations, files = _campaign_products(i, star.epic, star.campaigns, star.ra, star.dec, rng, fits_rows, obsids)
    host = Host("K2", star.epic, star.hostname, star.ra, star.dec, tuple(planets), star.campaigns, files)
    return host, observations


def _with_ephemerides(hosts: list[Host], seed: int) -> list[Host]:
    """Every planet's drawn period and ephemeris, from a generator of their own: K2's frozen sequence, and so its
    hosts, files and observations, stay as they were."""
    rng = random.Random(f"k2-ephemerides-{seed}")
    return [replace(host, planets=tuple(_ephemeris(i, j, p, rng, host.units[0]) for j, p in enumerate(host.planets)))
            for i, host in enumerate(hosts)]


def _ephemeris(i: int, j: int, planet: Planet, rng: random.Random, first_campaign: int) -> Planet:
    period = round(rng.uniform(*PERIOD_RANGE), 6)
    drawn = drawn_ephemeris(planet, rng, k2_campaign_start_bkjd(first_campaign) + KEPLER_BJD_OFFSET, period)
    if j:
        return drawn
    if i == NO_EPHEMERIS_HOST:
        return replace(drawn, epoch_bjd=None)
    if i == EPOCH_ONLY_IN_OTHER_SOLUTION_HOST:
        return replace(drawn, other_solution=True, default_lacks_epoch=True)
    return replace(drawn, other_solution=i % OTHER_SOLUTION_EVERY == 0)


def _build_host(i: int, epic_id: int, k2_number: int, known: bool, rng: random.Random, start: date,
                days: int, fits_rows: int | None, obsids: Iterator[int]) -> tuple[Host, list[Observation]]:
    ra, dec = rng.uniform(0.0, 360.0), rng.uniform(-30.0, 30.0)
    planets, hostname = _build_planets(i, epic_id, k2_number, known, rng, start, days)
    campaigns = tuple(sorted(rng.sample(K2_CAMPAIGNS, rng.randint(2, 4)), key=K2_CAMPAIGNS.index))
    observations: list[Observation] = []
    files: tuple[LightCurveFile, ...] = ()
    if known:
        observations, files = _campaign_products(i, epic_id, campaigns, ra, dec, rng, fits_rows, obsids)
    host = Host("K2", epic_id, hostname, round(ra, 6), round(dec, 6), planets, campaigns, files, known)
    return host, observations


def _campaign_products(i: int, epic_id: int, campaigns: tuple[int, ...], ra: float, dec: float,
                       rng: random.Random, fits_rows: int | None,
                       obsids: Iterator[int]) -> tuple[list[Observation], tuple[LightCurveFile, ...]]:
    """Host ``i``'s observations and LLC files: one per campaign; every third host also short cadence in its first."""
    observations: list[Observation] = []
    files: list[LightCurveFile] = []
    for n, campaign in enumerate(campaigns):
        rows = light_curve_rows(rng, fits_rows, REAL_ROWS)
        lc = _lc_observation(epic_id, campaign, ra, dec, rows, str(next(obsids)))
        observations.append(lc)
        files.append(_llc_file(lc, rows))
        if i % 3 == 0 and n == 0:
            observations.append(_sc_observation(epic_id, campaign, ra, dec, rows, str(next(obsids))))
    return observations, tuple(files)


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


def campaign_mjd(campaign: int) -> tuple[float, float]:
    """When a campaign was observed (MJD, approximate): its observations' t_min and t_max."""
    return _campaign_mjd(campaign)


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
