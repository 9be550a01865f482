"""The synthetic sky: K2, Kepler and TESS planet hosts, their light-curve files and MAST records.

Pure data, deterministic from a seed. The three stand-ins (TAP, MAST, S3) all
serve views of one :class:`Universe`, so a test can compute the expected
outcome of any query straight from it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from threading import Lock

from . import hlsp, missions_k2, missions_kepler, missions_tess
from .field_stars import build_field
from .fits_factory import make_kepler_llc_fits, make_llc_fits, make_tess_lc_fits, make_tess_spoc_fits, transits_of
from .hlsp_fits import make_everest_fits, make_k2sff_fits, make_qlp_fits
from .missions_k2 import K2_CAMPAIGNS, LC_EXPTIME, SC_EXPTIME, build_k2
from .missions_kepler import build_kepler, make_bundle
from .missions_tess import build_tess
from .records import CONFIRMED, MISSIONS, HlspFile, Host, LightCurveFile, Observation, Planet, Product

FITS_CACHE_BYTES = 64 * 2**20  # files kept once made; making one takes 10-30 ms (a 20-s TESS one, 12 MB: 0.1 s)

__all__ = [
    "K2_CAMPAIGNS", "LC_EXPTIME", "MISSIONS", "SC_EXPTIME", "HlspFile", "Host", "LightCurveFile", "Observation",
    "Planet", "Product", "Universe", "bucket_path_for_uri", "build_universe",
]


def bucket_path_for_uri(uri: str) -> str | None:
    """The path MAST's path_lookup gives for a dataURI (``/k2/public/...``), None if it has none (HLSPs: none, see
    :mod:`.hlsp`)."""
    if uri.startswith(missions_k2.MAST_PREFIX):
        return "/" + missions_k2.bucket_key(uri[len(missions_k2.MAST_PREFIX):])
    for prefix in missions_kepler.MAST_PREFIXES:
        if uri.startswith(prefix):
            return "/" + missions_kepler.BUCKET_PREFIX + uri[len(prefix):]
    if uri.startswith(missions_tess.MAST_PREFIX):
        key = missions_tess.key_for_filename(uri[len(missions_tess.MAST_PREFIX):])
        return None if key is None else "/" + key
    return None


class Universe:
    """All hosts, files and MAST observations, plus lookups and file bytes."""

    def __init__(self, hosts: tuple[Host, ...], observations: tuple[Observation, ...], seed: int,
                 fits_cache_bytes: int = FITS_CACHE_BYTES, planted_signal: bool = False,
                 field_files: tuple[LightCurveFile, ...] = (), decoys: tuple[tuple[str, bytes], ...] = (),
                 hlsp_files: tuple[HlspFile, ...] = (), hlsp_observations: tuple[Observation, ...] = ()) -> None:
        self.hosts = hosts
        # in the bucket only: light curves of stars without planets (see field_stars), and objects that are not
        # light curves (key, bytes)
        self.field_files = field_files
        self.decoys = decoys
        self.planted_signal = planted_signal  # light curves carry a sinusoid (fits_factory.planted_period_days)
        self.observations = observations  # the missions' own (obs_collection K2, Kepler, TESS)
        self.seed = seed
        self.files: tuple[LightCurveFile, ...] = tuple(f for h in hosts for f in h.files)
        # High-level science products (only with build_universe(hlsps=True)): MAST lists their observations beside
        # the missions' own (obs_collection HLSP); the public bucket holds the files whose in_bucket is set.
        self.hlsp_files = hlsp_files
        self.hlsp_observations = hlsp_observations
        self._by_id = {(h.mission, h.target_id): h for h in hosts}
        self._by_name = {h.hostname: h for h in hosts}
        self._files_by_uri: dict[str, LightCurveFile | HlspFile] = {f.data_uri: f for f in self.files + hlsp_files}
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached_bytes = 0
        self._cache_limit = fits_cache_bytes
        self._lock = Lock()

    def hosts_of(self, mission: str) -> list[Host]:
        return [h for h in self.hosts if h.mission == mission]

    def host(self, mission: str, target_id: int) -> Host:
        return self._by_id[(mission, target_id)]

    def host_by_name(self, hostname: str) -> Host:
        return self._by_name[hostname]

    def file_by_uri(self, uri: str) -> LightCurveFile | HlspFile | None:
        """The light curve (a mission's or an HLSP) with this dataURI: what MAST's download service serves."""
        return self._files_by_uri.get(uri)

    @property
    def mast_observations(self) -> tuple[Observation, ...]:
        """Every observation MAST lists: the missions' own, then the HLSPs'."""
        return self.observations + self.hlsp_observations

    @cached_property
    def products(self) -> tuple[Product, ...]:
        return tuple(p for o in self.mast_observations for p in o.products)

    def hlsps_of(self, host: Host, provenance: str | None = None) -> tuple[HlspFile, ...]:
        """The host's HLSP light curves (of one provenance, if given), in sector or campaign order."""
        return tuple(f for f in self.hlsp_files if (f.mission, f.target_id) == (host.mission, host.target_id)
                     and provenance in (None, f.provenance))

    @property
    def bucket_hlsp_files(self) -> tuple[HlspFile, ...]:
        """The HLSP light curves the public bucket holds (:func:`.hlsp.in_public_bucket`)."""
        return tuple(f for f in self.hlsp_files if f.in_bucket)

    def fits_bytes(self, file: LightCurveFile | HlspFile) -> bytes:
        """The file's content (a bundle: the tar's), generated on first use, kept in an LRU cache of at most
        ``fits_cache_bytes``."""
        with self._lock:
            if file.key in self._cache:
                self._cache.move_to_end(file.key)
                return self._cache[file.key]
        content = self._make(file)
        with self._lock:
            if file.key not in self._cache:
                self._cache[file.key] = content
                self._cached_bytes += len(content)
            while self._cached_bytes > self._cache_limit and len(self._cache) > 1:
                self._cached_bytes -= len(self._cache.popitem(last=False)[1])
        return content

    def _make(self, file: LightCurveFile | HlspFile) -> bytes:
        host = self._by_id.get((file.mission, file.target_id))  # None for a field star
        ra, dec = (host.ra, host.dec) if host else (0.0, 0.0)
        transits = transits_of(host.planets) if host else ()  # at the planets' archive ephemerides
        if isinstance(file, HlspFile):
            return self._make_hlsp(file, ra, dec, transits)
        if file.mission == "K2":
            return make_llc_fits(file.target_id, file.unit, file.rows, self.seed, self.planted_signal, ra, dec,
                                 transits)
        if file.kind == "bundle":
            return make_bundle([(f.filename, self.fits_bytes(f)) for f in host.light_curves()])
        if file.mission == "Kepler":
            return make_kepler_llc_fits(file.target_id, file.unit, file.rows, self.seed, self.planted_signal, ra, dec,
                                        first_cadence=self._earlier_cadences(host, file), transits=transits)
        cadence = 20 if file.kind == "fast-lc" else 120
        return make_tess_lc_fits(file.target_id, file.unit, file.rows, self.seed, cadence, ra, dec,
                                 self.planted_signal, transits)

    def _make_hlsp(self, file: HlspFile, ra: float, dec: float, transits: tuple) -> bytes:
        star = (file.target_id, file.unit, file.rows, self.seed)
        if file.provenance == hlsp.QLP:
            return make_qlp_fits(*star, file.exptime, ra, dec, self.planted_signal, transits)
        if file.provenance == hlsp.TESS_SPOC:
            return make_tess_spoc_fits(*star, file.exptime, ra, dec, self.planted_signal, transits)
        make = make_k2sff_fits if file.provenance == hlsp.K2SFF else make_everest_fits
        return make(*star, ra, dec, self.planted_signal, transits)

    @staticmethod
    def _earlier_cadences(host: Host | None, file: LightCurveFile) -> int:
        """Rows of the files before this one in its quarter (a quarter cut in two files; names sort by time)."""
        if host is None:
            return 0
        return sum(f.rows for f in host.light_curves() if f.unit == file.unit and f.filename < file.filename)

    def confirmed_hosts(self, day: date | None = None, mission: str = "K2") -> list[Host]:
        """Hosts with a confirmed planet (K2/Kepler CONFIRMED, TESS CP or KP) whose rowupdate is ``day``, if given."""
        return self.hosts_with(mission, CONFIRMED[mission], day)

    def hosts_with(self, mission: str, dispositions: Iterable[str], day: date | None = None) -> list[Host]:
        """Hosts of ``mission`` with a planet of one of ``dispositions`` (whose rowupdate is ``day``, if given)."""
        wanted = {dispositions} if isinstance(dispositions, str) else set(dispositions)
        return [h for h in self.hosts_of(mission) if any(
            p.disposition in wanted and (day is None or p.rowupdate == day) for p in h.planets)]


def build_universe(n_hosts: int = 20, *, seed: int = 0, start: date = date(2026, 11, 20), days: int = 5,
                   fits_rows: int | None = None, unknown_to_mast: int = 0, kepler_hosts: int | None = None,
                   tess_hosts: int | None = None, planted_signal: bool = False, field_stars: bool = True,
                   real_k2: bool = False, hlsps: bool = False) -> Universe:
    """Build a deterministic synthetic sky: K2 hosts first, then Kepler, then TESS.

    K2 (``n_hosts`` hosts, plus ``unknown_to_mast``):

    * host ``i`` with ``i % 10 == 3`` has only CANDIDATE planets and ``i % 10 == 7`` only a
      FALSE POSITIVE (named ``EPIC <id>``, like the archive); the rest have 1-3 CONFIRMED
      planets (``K2-<n> b``), sometimes plus a CANDIDATE.
    * planet ``j`` of host ``i`` has ``rowupdate = start + (i + j) % days`` (for the
      CANDIDATE/FALSE POSITIVE-only hosts ``start + (1 + j) % days``, so that the second day
      always holds rows a "confirmed only" query must drop).
    * each host has 2-4 campaigns and one LLC file per campaign; every third host also has a
      short-cadence observation in its first campaign.
    * ``unknown_to_mast`` extra hosts with CONFIRMED planets exist in the exoplanet archive
      but have no MAST observations and no files.
    * with ``real_k2``, the real stars K2-18 (K2-18 b) and K2-3 (K2-3 b, c, d) follow all those, with their real
      EPIC ids, coordinates and campaign (C1), their CONFIRMED planets at published ephemerides and dates like the
      others' (see :data:`.missions_k2.REAL_STARS`). Off by default: the generated hosts are the same either way, but
      tests and fixtures count and index the K2 hosts. A seed whose generated hosts already use one of their ids or
      names (``K2-3``, ``K2-18``) raises ValueError.

    Kepler (``kepler_hosts``, default ``n_hosts``): Kepler-10, Kepler-22, KOI-5 (candidate) and
    KOI-6 (false positive), then generated hosts with the same pattern and dates; 2-4 quarters
    each (Kepler-10: 3, 4 and 5), one LLC per quarter (Q4: two) plus the per-target .tar bundle.
    See :mod:`.missions_kepler`.

    TESS (``tess_hosts``, default ``n_hosts``): pi Men, LHS 3844, TOI-4455 (candidate) and
    TOI-4452 (false positive), then generated ``TOI-<n>`` hosts with the same pattern (CP/KP,
    PC, FP) and dates; 2-4 sectors each, hosts ``i % 3 == 0`` one more sector released at
    06:00 UTC on day ``start + i % days``, hosts ``i % 2 == 0`` also 20-s light curves.
    See :mod:`.missions_tess`.

    Sizes: with ``fits_rows`` None, each light curve has a real file's LIGHTCURVE rows (K2 3,400-3,950; Kepler the
    quarter's cadences, about 4,400; TESS 2-min 19,000-20,100, 20-s six times as many: 0.4, 0.5, 2 and 12 MB); a
    number gives every light curve that many rows plus 0-10 % (20-s: three times as many), for benchmarks that hold
    thousands of objects. None and 200 give the same stars, units and ids.

    Every planet has an ephemeris (``Planet.epoch_bjd``, ``duration_hours``, ``depth_ppm``): the archive's for the
    real stars, drawn for the others, false positives as eclipsing binaries; its light curves carry those transits
    (:mod:`.fits_factory`). One object per mission has no epoch (``NO_EPHEMERIS`` of :mod:`.missions_kepler` and
    :mod:`.missions_tess`, :data:`.missions_k2.NO_EPHEMERIS_HOST`); the ephemerides come from generators of their
    own, so hosts, files and observations are those without them.

    Kepler and TESS use random generators of their own, so K2 is the same whatever their counts.
    With ``planted_signal`` every light curve's flux carries a sinusoid (see :mod:`.fits_factory`); sizes stay.
    With ``field_stars``, the bucket also holds stars without planets and decoy objects in the campaigns and sectors
    of the first hosts (see :mod:`.field_stars`).

    With ``hlsps`` (off by default: every universe without it is as it was), MAST also lists high-level science
    products: QLP and TESS-SPOC light curves of the TESS hosts, K2SFF and EVEREST ones of the K2 hosts, and one more
    TESS host (TOI :data:`.missions_tess.FFI_ONLY_TOI`, a candidate) has only those; the bucket holds some of them
    (see :mod:`.hlsp`: ``universe.hlsp_files``, ``hlsp_observations``, ``hlsps_of(host)``).
    """
    hosts, observations = build_k2(n_hosts, seed, start, days, fits_rows, unknown_to_mast, real_k2)
    for build, count in ((build_kepler, kepler_hosts), (build_tess, tess_hosts)):
        more_hosts, more_observations = build(n_hosts if count is None else count, seed, start, days, fits_rows)
        hosts += more_hosts
        observations += more_observations
    field_files, decoys = build_field(hosts, seed, fits_rows) if field_stars else ([], [])
    hlsp_observations, hlsp_files = [], []
    if hlsps:
        hosts, hlsp_observations, hlsp_files = hlsp.build_hlsps(hosts, seed, start, days, fits_rows)
    return Universe(tuple(hosts), tuple(observations), seed, planted_signal=planted_signal,
                    field_files=tuple(field_files), decoys=tuple(decoys), hlsp_files=tuple(hlsp_files),
                    hlsp_observations=tuple(hlsp_observations))
