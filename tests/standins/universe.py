"""The synthetic sky: K2 planet hosts, their light-curve files and MAST records.

Pure data, deterministic from a seed. The three stand-ins (TAP, MAST, S3) all
serve views of one :class:`Universe`, so a test can compute the expected
outcome of any query straight from it.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from threading import Lock

from .fits_factory import llc_size, make_llc_fits

# K2 campaigns as they appear in file names: 9, 10 and 11 were split in two.
K2_CAMPAIGNS: tuple[int, ...] = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 91, 92, 101, 102, 111, 112, 12, 13, 14, 15, 16, 17, 18, 19,
)
LC_EXPTIME = 1800.0
SC_EXPTIME = 60.0
_MAST_K2_PREFIX = "mast:K2/url/missions/k2/"
_BUCKET_K2_PREFIX = "k2/public/"
_CAMPAIGN0_MJD = 56728.0  # 2014-03-12


@dataclass(frozen=True)
class LightCurveFile:
    epic_id: int
    campaign: int
    obsid: str
    key: str
    data_uri: str
    size: int
    rows: int

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Planet:
    pl_name: str
    disposition: str  # CONFIRMED / CANDIDATE / FALSE POSITIVE
    rowupdate: date
    releasedate: date


@dataclass(frozen=True)
class K2Host:
    hostname: str
    epic_id: int
    ra: float
    dec: float
    planets: tuple[Planet, ...]
    campaigns: tuple[int, ...]
    files: tuple[LightCurveFile, ...]  # one LLC per campaign; empty if unknown to MAST
    known_to_mast: bool = True

    @property
    def target_name(self) -> str:
        return f"ktwo{self.epic_id}"

    @property
    def has_confirmed_planet(self) -> bool:
        return any(p.disposition == "CONFIRMED" for p in self.planets)


@dataclass(frozen=True)
class Product:
    """One row of a ``Mast.Caom.Products`` reply."""

    obsid: str
    obs_id: str
    filename: str
    data_uri: str
    subgroup: str  # productSubGroupDescription: LLC, SLC, TPF
    description: str
    size: int


@dataclass(frozen=True)
class Observation:
    """One row of a ``Mast.Caom.Filtered`` reply (a K2 LC or SC observation)."""

    obsid: str
    obs_id: str
    epic_id: int
    campaign: int
    t_exptime: float
    ra: float
    dec: float
    t_min: float
    t_max: float
    data_url: str
    products: tuple[Product, ...]

    @property
    def target_name(self) -> str:
        return f"ktwo{self.epic_id}"


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
    return _BUCKET_K2_PREFIX + relative_path


def mast_uri(relative_path: str) -> str:
    return _MAST_K2_PREFIX + relative_path


def bucket_path_for_uri(uri: str) -> str | None:
    """The path MAST's path_lookup gives for a K2 URI (``/k2/public/...``)."""
    if not uri.startswith(_MAST_K2_PREFIX):
        return None
    return "/" + bucket_key(uri[len(_MAST_K2_PREFIX):])


class Universe:
    """All hosts, files and MAST observations, plus lookups and FITS bytes."""

    def __init__(self, hosts: tuple[K2Host, ...], observations: tuple[Observation, ...], seed: int,
                 fits_cache_size: int = 256) -> None:
        self.hosts = hosts
        self.observations = observations
        self.seed = seed
        self.files: tuple[LightCurveFile, ...] = tuple(f for h in hosts for f in h.files)
        self._by_epic = {h.epic_id: h for h in hosts}
        self._by_name = {h.hostname: h for h in hosts}
        self._files_by_uri = {f.data_uri: f for f in self.files}
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = fits_cache_size
        self._lock = Lock()

    def host_by_epic(self, epic_id: int) -> K2Host:
        return self._by_epic[epic_id]

    def host_by_name(self, hostname: str) -> K2Host:
        return self._by_name[hostname]

    def file_by_uri(self, uri: str) -> LightCurveFile | None:
        return self._files_by_uri.get(uri)

    @cached_property
    def products(self) -> tuple[Product, ...]:
        return tuple(p for o in self.observations for p in o.products)

    def fits_bytes(self, file: LightCurveFile) -> bytes:
        """The file's content (generated on first use, kept in a bounded LRU cache)."""
        with self._lock:
            if file.key in self._cache:
                self._cache.move_to_end(file.key)
                return self._cache[file.key]
        content = make_llc_fits(file.epic_id, file.campaign, file.rows, self.seed)
        with self._lock:
            self._cache[file.key] = content
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return content

    def confirmed_hosts(self, day: date | None = None) -> list[K2Host]:
        """Hosts with a CONFIRMED planet (whose rowupdate is ``day``, if given)."""
        return [h for h in self.hosts if any(
            p.disposition == "CONFIRMED" and (day is None or p.rowupdate == day) for p in h.planets)]


def build_universe(n_hosts: int = 20, *, seed: int = 0, start: date = date(2026, 11, 20), days: int = 5,
                   fits_rows: int = 200, unknown_to_mast: int = 0) -> Universe:
    """Build a deterministic synthetic sky.

    * host ``i`` with ``i % 10 == 3`` has only CANDIDATE planets and ``i % 10 == 7`` only a
      FALSE POSITIVE (named ``EPIC <id>``, like the archive); the rest have 1-3 CONFIRMED
      planets (``K2-<n> b``), sometimes plus a CANDIDATE.
    * planet ``j`` of host ``i`` has ``rowupdate = start + (i + j) % days`` (for the
      CANDIDATE/FALSE POSITIVE-only hosts ``start + (1 + j) % days``, so that the second day
      always holds rows a "confirmed only" query must drop).
    * each host has 2-4 campaigns and one LLC file per campaign of ``fits_rows`` rows plus
      0-10 % (see :mod:`.fits_factory` for sizes); every third host also has a
      short-cadence observation in its first campaign.
    * ``unknown_to_mast`` extra hosts with CONFIRMED planets exist in the exoplanet archive
      but have no MAST observations and no files.
    """
    rng = random.Random(seed)
    epics = rng.sample(range(201000000, 252000000), n_hosts + unknown_to_mast)
    k2_numbers = sorted(rng.sample(range(1, 400), n_hosts + unknown_to_mast))
    obsids = iter(range(9500000000 + seed * 100000, 9600000000))
    hosts: list[K2Host] = []
    observations: list[Observation] = []
    for i in range(n_hosts + unknown_to_mast):
        known = i < n_hosts
        host, host_obs = _build_host(i, epics[i], k2_numbers[i], known, rng, start, days, fits_rows, obsids)
        hosts.append(host)
        observations.extend(host_obs)
    return Universe(tuple(hosts), tuple(observations), seed)


def _build_host(i: int, epic_id: int, k2_number: int, known: bool, rng: random.Random, start: date,
                days: int, fits_rows: int, obsids) -> tuple[K2Host, list[Observation]]:
    ra, dec = rng.uniform(0.0, 360.0), rng.uniform(-30.0, 30.0)
    planets, hostname = _build_planets(i, epic_id, k2_number, known, rng, start, days)
    campaigns = tuple(sorted(rng.sample(K2_CAMPAIGNS, rng.randint(2, 4)), key=K2_CAMPAIGNS.index))
    observations: list[Observation] = []
    files: list[LightCurveFile] = []
    if known:
        for n, campaign in enumerate(campaigns):
            rows = fits_rows + rng.randint(0, fits_rows // 10)
            lc = _lc_observation(epic_id, campaign, ra, dec, rows, str(next(obsids)))
            observations.append(lc)
            files.append(_llc_file(lc, rows))
            if i % 3 == 0 and n == 0:
                observations.append(_sc_observation(epic_id, campaign, ra, dec, rows, str(next(obsids))))
    host = K2Host(hostname, epic_id, round(ra, 6), round(dec, 6), planets, campaigns, tuple(files), known)
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
    path = k2_relative_path("lightcurves", lc.epic_id, lc.campaign, "llc.fits")
    return LightCurveFile(lc.epic_id, lc.campaign, lc.obsid, bucket_key(path), mast_uri(path), llc_size(rows), rows)


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
    return Observation(obsid, obs_id, epic_id, campaign, LC_EXPTIME, ra, dec, *_campaign_mjd(campaign),
                       mast_uri(llc), products)


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
    return Observation(obsid, obs_id, epic_id, campaign, SC_EXPTIME, ra, dec, *_campaign_mjd(campaign),
                       mast_uri(slc), products)
