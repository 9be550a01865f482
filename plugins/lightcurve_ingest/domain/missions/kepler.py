"""Kepler (2009-2013): KIC ids, quarters, the archive's KOI table ``cumulative``, long-cadence ``LLC`` light curves.

Runs may instead take their targets from the DR24 threshold-crossing events (``q1_q17_dr24_tce``, the
``object_table`` param): AstroNet's training set, labelled by ``av_training_set``.
"""

from __future__ import annotations

import re

from lightcurve_ingest.clients.tap import TapClient, adql_string
from lightcurve_ingest.domain.ephemerides import EphemerisColumns
from lightcurve_ingest.domain.formats import KEPLER_LLC
from lightcurve_ingest.domain.missions.base import (
    ArchiveObject,
    ArchiveTable,
    KeyInfo,
    Mission,
    ObjectSource,
    ProductKind,
    full_match,
)
from lightcurve_ingest.errors import InvalidInputError

# <KIC9[:4]>/<KIC9>/kplr<KIC9>-<timestamp>_llc.fits; the per-target .tar bundles beside them never match.
_RELATIVE_PATH = re.compile(
    r"(?P<d4>[0-9]{4})/(?P<folder>[0-9]{9})/kplr(?P<kic>[0-9]{9})-(?P<timestamp>[0-9]{13})_llc\.fits")
# Long-cadence file timestamps of each quarter (STScI's get_kepler.py); Q4 has two.
QUARTER_OF_TIMESTAMP = {
    "2009131105131": 0, "2009166043257": 1, "2009259160929": 2, "2009350155506": 3, "2010078095331": 4,
    "2010009091648": 4, "2010174085026": 5, "2010265121752": 6, "2010355172524": 7, "2011073133259": 8,
    "2011177032512": 9, "2011271113734": 10, "2012004120508": 11, "2012088054726": 12, "2012179063303": 13,
    "2012277125453": 14, "2013011073258": 15, "2013098041711": 16, "2013131215648": 17,
}
# "K00072.01", "K00072", "KOI-72", "KOI 72.01": a KOI, or all KOIs of a star
_KOI = re.compile(r"(?:K0*|KOI[ -]?)(?P<number>[0-9]{1,5})(?:\.(?P<planet>[0-9]{2}))?", re.IGNORECASE | re.ASCII)
_PLANET_LETTER = re.compile(r"(?P<host>.+) [a-z]")

# The Q1-Q17 DR24 TCE table (Kepler's pipeline, with the Autovetter's training labels): no host names and no
# dates; av_training_set is PC (planet candidate), AFP (astrophysical false positive), NTP (non-transiting
# phenomenon) or UNK (unlabelled), best verdict first; the labelled set is the default.
DR24_TCE_TABLE = ArchiveTable(
    name="q1_q17_dr24_tce",
    id_column="kepid",
    columns=("kepid", "tce_plnt_num", "av_training_set"),
    disposition_column="av_training_set",
    dispositions=("PC", "AFP", "NTP", "UNK"),
    default_dispositions=("PC", "AFP", "NTP"),
    date_columns=(),
    labels=(("PC", 1), ("AFP", 0), ("NTP", 0), ("UNK", None)),  # AstroNet's: PC positive, AFP and NTP negative
)
# epoch in BKJD (tce_time0bk), duration in hours, depth in ppm; the object's name is built from two columns
DR24_TCE_EPHEMERIS = EphemerisColumns(object="tce_plnt_num", period_days="tce_period", epoch="tce_time0bk",
                                      duration_hours="tce_duration", depth="tce_depth", epoch_is_bjd=False)


class Kepler(Mission):
    name = "Kepler"
    slug = "kepler"
    id_prefix = "KIC"
    id_prefixes = ("KIC", "kplr")
    id_example = "KIC 11904151"
    id_range = (1, 99_999_999)
    id_digits = (1, 9)  # kplr011904151: MAST pads KIC ids to 9 digits
    target_examples = "host names (Kepler-10), KOIs (KOI-72, K00072.01) or KIC ids (KIC 11904151, 11904151)"
    unit_name = "quarter"
    light_curves = "long-cadence LLC files, one a quarter"
    collection = "Kepler"
    table = ArchiveTable(
        name="cumulative",
        id_column="kepid",
        columns=("kepid", "kepoi_name", "kepler_name", "koi_disposition"),
        disposition_column="koi_disposition",
        dispositions=("CONFIRMED", "CANDIDATE", "FALSE POSITIVE"),
        default_dispositions=("CONFIRMED",),
        date_columns=("koi_vet_date",),  # "Date of Last Parameter Update": the KOI table has no rowupdate
        labels=(("CONFIRMED", 1), ("CANDIDATE", None), ("FALSE POSITIVE", 0)),
    )
    products = (ProductKind(cadence_s=1800.0, subgroup="LLC", suffix="_llc.fits"),)
    own_product = "Kepler"
    light_curve_format = KEPLER_LLC
    # the KOI table's epoch is already in BKJD (koi_time0bk); duration in hours, depth in ppm
    ephemeris_columns = EphemerisColumns(object="kepoi_name", period_days="koi_period", epoch="koi_time0bk",
                                         duration_hours="koi_duration", depth="koi_depth", epoch_is_bjd=False)
    asset_uri = "lightcurve-ingest://catalog/kepler"
    key_prefix = "kepler/public/lightcurves/"
    data_uri_prefix = "mast:Kepler/url/missions/kepler/lightcurves/"

    def resolve_names(self, names: list[str], tap: TapClient) -> dict[str, set[int]]:
        """``Kepler-10`` through the planets' ``kepler_name``; ``KOI-72`` or ``K00072.01`` through ``kepoi_name``."""
        found: dict[str, set[int]] = {}
        for name in names:
            koi = _KOI.fullmatch(name)
            if koi:
                pattern = f"K{int(koi.group('number')):05d}." + (koi.group("planet") or "%")
                rows = tap.query(f"select kepid, kepoi_name from cumulative where kepoi_name like "
                                 f"{adql_string(pattern)}", required=("kepid",))
            else:
                # LIKE takes "_" as a wildcard: the reply may hold more than asked, so it is filtered exactly below
                rows = tap.query(f"select kepid, kepler_name from cumulative where kepler_name like "
                                 f"{adql_string(name + ' %')}", required=("kepid", "kepler_name"))
                rows = [r for r in rows if _host_of(r["kepler_name"]) == name]
            if rows:
                found[name] = {self.parse_id(r["kepid"], "kepid") for r in rows}
        return found

    def object_of_row(self, row: dict[str, str]) -> ArchiveObject:
        koi, planet = row["kepoi_name"].strip(), row["kepler_name"].strip()
        koi_match = _KOI.fullmatch(koi)
        host = _host_of(planet) or (f"KOI-{int(koi_match.group('number'))}" if koi_match else "")
        return ArchiveObject(target_id=self.id_of_row(row), host=host,
                             name=f"{koi} ({planet})" if planet else koi,
                             disposition=row["koi_disposition"].strip())

    def other_object_sources(self) -> tuple[ObjectSource, ...]:
        return (ObjectSource(DR24_TCE_TABLE, DR24_TCE_EPHEMERIS, self.tce_of_row),)

    def tce_of_row(self, row: dict[str, str]) -> ArchiveObject:
        """A DR24 TCE, named ``KIC 11904151 TCE 1``; the table names no host (the star is shown by its KIC id)."""
        kic = self.parse_id(row["kepid"], "kepid")
        number = str(row["tce_plnt_num"]).strip()
        if not re.fullmatch(r"[0-9]{1,4}", number):
            raise InvalidInputError("tce_plnt_num", f"{number!r} is not a TCE number (KIC {kic})")
        return ArchiveObject(target_id=kic, host="", name=f"{self.format_id(kic)} TCE {int(number)}",
                             disposition=row["av_training_set"].strip())

    def mast_target_name(self, target_id: int) -> str:
        return f"kplr{target_id:09d}"

    def parse_relative_path(self, relative_path: str, field: str) -> KeyInfo:
        match = full_match(_RELATIVE_PATH, relative_path)
        if not match:
            raise InvalidInputError(
                field, f"{relative_path!r} is not the path of a Kepler long-cadence light curve")
        kic = match.group("kic")
        if match.group("folder") != kic or match.group("d4") != kic[:4]:
            raise InvalidInputError(field, f"{relative_path!r}: its folders do not match KIC {int(kic)}")
        return KeyInfo(target_id=int(match.group("kic")), unit=QUARTER_OF_TIMESTAMP.get(match.group("timestamp")))


def _host_of(planet_name: str) -> str:
    """``Kepler-10 b`` -> ``Kepler-10``; "" for an empty name."""
    match = _PLANET_LETTER.fullmatch(planet_name.strip())
    return match.group("host") if match else ""
