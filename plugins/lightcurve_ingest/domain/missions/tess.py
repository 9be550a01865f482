"""TESS (2018-): TIC ids, sectors, the archive's ``toi`` table, SPOC 2-minute (and 20-second) light curves."""

from __future__ import annotations

import re

from lightcurve_ingest.clients.tap import TapClient, adql_list
from lightcurve_ingest.domain.ephemerides import EphemerisColumns
from lightcurve_ingest.domain.formats import TESS_SPOC
from lightcurve_ingest.domain.missions import hlsp
from lightcurve_ingest.domain.missions.base import (
    ArchiveObject,
    ArchiveTable,
    KeyInfo,
    Mission,
    ProductKind,
    full_match,
    strip_prefix_ignoring_case,
)
from lightcurve_ingest.errors import InvalidInputError

# tess<timestamp>-s<sector>-<TIC16>-<scid>-s_lc.fits (2 min) or ...-a_fast-lc.fits (20 s)
_FILE_NAME = r"tess[0-9]{13}-s(?P<sector>[0-9]{4})-(?P<tic>[0-9]{16})-[0-9]{4}-(?:s_lc|a_fast-lc)\.fits"
_FILE = re.compile(_FILE_NAME)
# s<sector>/<TIC16[0:4]>/<TIC16[4:8]>/<TIC16[8:12]>/<TIC16[12:16]>/<file name>
_RELATIVE_PATH = re.compile(
    r"s(?P<folder_sector>[0-9]{4})/(?P<t1>[0-9]{4})/(?P<t2>[0-9]{4})/(?P<t3>[0-9]{4})/(?P<t4>[0-9]{4})/"
    + _FILE_NAME)
# "TOI-144", "TOI 144.01", "toi144": a TOI, or all TOIs of a star
_TOI = re.compile(r"TOI[ -]?(?P<prefix>[0-9]{1,6})(?:\.(?P<planet>[0-9]{2}))?", re.IGNORECASE | re.ASCII)


class Tess(Mission):
    name = "TESS"
    slug = "tess"
    id_prefix = "TIC"
    id_prefixes = ("TIC",)
    id_example = "TIC 261136679"
    id_range = (1, 9_999_999_999)
    id_digits = (1, 16)  # file names pad TIC ids to 16 digits
    target_examples = "host names (pi Men), TOIs (TOI-144, TOI-144.01) or TIC ids (TIC 261136679, 261136679)"
    unit_name = "sector"
    light_curves = "SPOC 2-minute LC files, one a sector; 20-second ones with `include_fast_cadence`"
    collection = "TESS"
    table = ArchiveTable(
        name="toi",
        id_column="tid",
        columns=("tid", "toi", "toipfx", "tfopwg_disp"),
        disposition_column="tfopwg_disp",
        # TFOPWG: confirmed planet, known planet, planet candidate, ambiguous candidate, false positive, false alarm
        dispositions=("CP", "KP", "PC", "APC", "FP", "FA"),
        default_dispositions=("CP", "KP"),
        date_columns=("rowupdate", "release_date"),
        labels=(("CP", 1), ("KP", 1), ("PC", None), ("APC", None), ("FP", 0), ("FA", 0)),
    )
    products = (ProductKind(cadence_s=120.0, subgroup="LC", suffix="-s_lc.fits"),)
    own_product = "SPOC"
    hlsp_products = (hlsp.TESS_SPOC, hlsp.QLP)
    light_curve_format = TESS_SPOC
    # the TOI table: epoch in BJD, duration in hours, depth in ppm
    ephemeris_columns = EphemerisColumns(object="toi", period_days="pl_orbper", epoch="pl_tranmid",
                                         duration_hours="pl_trandurh", depth="pl_trandep")
    fast_products = (ProductKind(cadence_s=20.0, subgroup="FAST-LC", suffix="-a_fast-lc.fits"),)
    keeps_observing = True
    asset_uri = "lightcurve-ingest://catalog/tess"
    key_prefix = "tess/public/tid/"
    data_uri_prefix = "mast:TESS/product/"  # then the file name alone
    unit_param = "sectors"
    unit_examples = "[1, 2]"
    # s<sector>/<TIC16[0:4]>/<TIC16[4:8]>/: the first level is "0000" for every TIC id below 10^12, the second
    # cuts a sector's ~20,000 light curves into folders of up to about a thousand
    shard_depth = 2
    max_sector = 999

    def resolve_names(self, names: list[str], tap: TapClient) -> dict[str, set[int]]:
        """``TOI-144`` through the ``toi`` table; star names (``pi Men``) through ``pscomppars``' TIC ids."""
        found: dict[str, set[int]] = {}
        tois = {name: _TOI.fullmatch(name) for name in names}
        for name, toi in tois.items():
            if toi is None:
                continue
            where = (f"toi = {int(toi.group('prefix'))}.{toi.group('planet')}" if toi.group("planet")
                     else f"toipfx = {int(toi.group('prefix'))}")
            rows = tap.query(f"select distinct tid from toi where {where}", required=("tid",))
            if rows:
                found[name] = {self.parse_id(r["tid"], "tid") for r in rows}
        stars = [name for name, toi in tois.items() if toi is None]
        if stars:
            rows = tap.query(f"select distinct hostname, tic_id from pscomppars where hostname in {adql_list(stars)} "
                             "and tic_id is not null", required=("hostname", "tic_id"))
            for row in rows:
                found.setdefault(row["hostname"].strip(), set()).add(self.parse_id(row["tic_id"], "tic_id"))
        return found

    def object_of_row(self, row: dict[str, str]) -> ArchiveObject:
        try:
            toi, prefix = float(row["toi"]), int(row["toipfx"])
        except ValueError:
            raise InvalidInputError("toi", f"{row['toi']!r} / {row['toipfx']!r} is not a TOI number") from None
        return ArchiveObject(target_id=self.id_of_row(row), host=f"TOI-{prefix}",
                             name=f"TOI-{toi:.2f}", disposition=row["tfopwg_disp"].strip())

    def mast_target_name(self, target_id: int) -> str:
        return str(target_id)

    def own_key_from_data_uri(self, data_uri: str) -> str:
        """``mast:TESS/product/<file name>`` -> ``tess/public/tid/s<sector>/<TIC16 in fours>/<file name>``."""
        name = strip_prefix_ignoring_case(data_uri, self.data_uri_prefix)
        match = full_match(_FILE, name)
        if match is None:
            raise InvalidInputError("dataURI", f"{data_uri!r} is not a TESS SPOC light-curve dataURI")
        tic = match.group("tic")
        key = f"{self.key_prefix}s{match.group('sector')}/{tic[0:4]}/{tic[4:8]}/{tic[8:12]}/{tic[12:16]}/{name}"
        self.parse_key(key, "dataURI")
        return key

    def parse_relative_path(self, relative_path: str, field: str) -> KeyInfo:
        match = full_match(_RELATIVE_PATH, relative_path)
        if not match:
            raise InvalidInputError(field, f"{relative_path!r} is not the path of a TESS SPOC light curve")
        tic = match.group("tic")
        if "".join(match.group("t1", "t2", "t3", "t4")) != tic:
            raise InvalidInputError(field, f"{relative_path!r}: its folders do not match TIC {int(tic)}")
        if match.group("folder_sector") != match.group("sector"):
            raise InvalidInputError(field, f"{relative_path!r}: its folder and file sectors differ")
        return KeyInfo(target_id=int(tic), unit=int(match.group("sector")))

    def own_data_uri_of_key(self, key: str) -> str:
        return self.data_uri_prefix + key.rsplit("/", 1)[-1]

    def check_unit(self, unit: object, field: str) -> int:
        if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= self.max_sector:
            raise InvalidInputError(field, f"{unit!r} is not a TESS sector (an integer from 1)")
        return unit

    def unit_prefix(self, unit: int) -> str:
        return f"{self.key_prefix}s{unit:04d}/"

    def obs_id_of_key(self, key: str) -> str:
        """``tess2018206045859-s0001-0000000261136679-0120-s`` (2-minute) or ``...-a_fast`` (20-second)."""
        name = key.rsplit("/", 1)[-1]
        return name.removesuffix("_lc.fits").removesuffix("-lc.fits")
