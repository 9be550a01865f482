"""Stars of a campaign or sector that host no planet, and objects under the same folders that are not light curves.

Whole-unit mirror runs list the bucket, so it holds more than the planet hosts MAST is asked about. For each
campaign (sector) of the first ``UNIT_HOSTS`` hosts of a mission, two field stars have a light curve there: one in
the host's own folder, one in a folder of its own. MAST does not list them and the archive does not know them (no
labels). Decoys, which a mirror must leave alone: K2 short-cadence ``_slc.fits`` beside the LLC of every host that
has a short-cadence observation (as the real bucket has), and a TESS target pixel file ``-s_tp.fits`` beside each
2-minute light curve of those first hosts.

A real shard folder (``c5/<EPIC[:4]>00000/``) holds thousands of objects; a listing returns 1,000 keys a page. The
folder of the first K2 host's first campaign (the first field unit) also holds ``CROWD`` short-cadence decoys of
other stars, whose ids are the folder's lowest: its light curves sort after the first page.
"""

from __future__ import annotations

import random

from .fits_factory import llc_size, tess_lc_size
from .missions_k2 import REAL_ROWS as K2_REAL_ROWS
from .missions_k2 import bucket_key, k2_relative_path, mast_uri
from .missions_tess import MAST_PREFIX as TESS_MAST_PREFIX
from .missions_tess import REAL_ROWS as TESS_REAL_ROWS
from .missions_tess import key_for_filename
from .records import Host, LightCurveFile
from .timeline import sector_timestamp

UNIT_HOSTS = 3
DECOY_BYTES = b"not a long-cadence light curve\n" * 96  # 2,976 bytes
CROWD = 1_050  # decoys in one shard folder: more than a listing page (1,000 keys)
_SHARD_IDS = 100_000  # EPIC ids a K2 shard folder (<EPIC[:4]>00000/) holds


def build_field(hosts: list[Host], seed: int,
                fits_rows: int | None) -> tuple[list[LightCurveFile], list[tuple[str, bytes]]]:
    """The field stars' light curves (``fits_rows`` rows, or the fewest of a real file) and the decoy objects
    (key, bytes) of a universe's hosts."""
    rng = random.Random(f"field-{seed}")
    taken = {(h.mission, h.target_id) for h in hosts}
    files: list[LightCurveFile] = []
    for mission, make, real in (("K2", _k2_file, K2_REAL_ROWS), ("TESS", _tess_file, TESS_REAL_ROWS)):
        rows = real[0] if fits_rows is None else fits_rows
        first = [h for h in hosts if h.mission == mission and h.files][:UNIT_HOSTS]
        for host in first:
            for unit in sorted({f.unit for f in host.files if f.kind == "lc"}):
                for star in _field_ids(host.target_id, rng, taken, mission):
                    files.append(make(star, unit, rows))
    return files, _decoys(hosts) + _crowd(hosts, taken)


def _field_ids(host_id: int, rng: random.Random, taken: set[tuple[str, int]], mission: str) -> list[int]:
    """Two free ids: one sharing the host's folders (K2: the first 6 EPIC digits; TESS: the first 12 of TIC16),
    one in another first-level shard folder (K2 EPIC[:4] + 1; TESS TIC16[4:8] + 1)."""
    step, other = (1000, 100_000) if mission == "K2" else (10_000, 100_000_000)
    ids = []
    for base in (host_id - host_id % step, host_id - host_id % step + other):
        while True:
            candidate = base + rng.randrange(step)
            if (mission, candidate) not in taken:
                taken.add((mission, candidate))
                ids.append(candidate)
                break
    return ids


def _k2_file(epic: int, campaign: int, rows: int) -> LightCurveFile:
    path = k2_relative_path("lightcurves", epic, campaign, "llc.fits")
    return LightCurveFile("K2", epic, campaign, "", bucket_key(path), mast_uri(path), llc_size(rows), rows)


def _tess_file(tic: int, sector: int, rows: int) -> LightCurveFile:
    name = f"tess{sector_timestamp(sector)}-s{sector:04d}-{tic:016d}-{120 + sector // 10:04d}-s_lc.fits"
    return LightCurveFile("TESS", tic, sector, "", key_for_filename(name), TESS_MAST_PREFIX + name,
                          tess_lc_size(rows), rows)


def _decoys(hosts: list[Host]) -> list[tuple[str, bytes]]:
    keys = []
    for host in hosts:
        if host.mission == "K2" and host.files and _has_short_cadence(hosts, host):
            first = host.files[0]
            keys.append(bucket_key(k2_relative_path("lightcurves", host.target_id, first.unit, "slc.fits")))
    tess = [h for h in hosts if h.mission == "TESS" and h.files][:UNIT_HOSTS]
    keys += [f.key.replace("-s_lc.fits", "-s_tp.fits") for h in tess for f in h.files if f.kind == "lc"]
    return [(key, DECOY_BYTES) for key in keys]


def _crowd(hosts: list[Host], taken: set[tuple[str, int]]) -> list[tuple[str, bytes]]:
    """``CROWD`` short-cadence decoys in the shard folder of the first K2 host's first campaign, from the folder's
    first free id up."""
    host = next((h for h in hosts if h.mission == "K2" and h.files), None)
    if host is None:
        return []
    campaign = min(f.unit for f in host.files)
    base = host.target_id - host.target_id % _SHARD_IDS
    ids = [i for i in range(base, base + _SHARD_IDS) if ("K2", i) not in taken][:CROWD]
    return [(bucket_key(k2_relative_path("lightcurves", i, campaign, "slc.fits")), DECOY_BYTES) for i in ids]


def _has_short_cadence(hosts: list[Host], host: Host) -> bool:
    """build_k2 gives every third K2 host (by position) a short-cadence observation in its first campaign."""
    return [h for h in hosts if h.mission == "K2"].index(host) % 3 == 0
