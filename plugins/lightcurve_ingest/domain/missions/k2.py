"""K2 (2014-2018): EPIC ids, campaigns, the archive's ``k2pandc`` table, long-cadence ``LLC`` light curves."""

from __future__ import annotations

import re

from lightcurve_ingest.clients.tap import TapClient, adql_list
from lightcurve_ingest.domain.ephemerides import EphemerisColumns
from lightcurve_ingest.domain.formats import K2_LLC
from lightcurve_ingest.domain.missions import hlsp
from lightcurve_ingest.domain.missions.base import (
    ArchiveObject,
    ArchiveTable,
    KeyInfo,
    Mission,
    ProductKind,
    full_match,
)
from lightcurve_ingest.errors import InvalidInputError

# c<N>/<EPIC[:4]>00000/<EPIC[4:6]>000/ktwo<EPIC>-c<NN>_llc.fits: the folder's campaign is not zero-padded, the
# file's is (c3/.../ktwo206089508-c03_llc.fits); split campaigns are c91/c92, c101/c102, c111/c112.
_RELATIVE_PATH = re.compile(
    r"c(?P<folder>[0-9]{1,3})/(?P<d1>[0-9]{4})00000/(?P<d2>[0-9]{2})000/"
    r"ktwo(?P<epic>[0-9]{9})-c(?P<campaign>[0-9]{2,3})_llc\.fits"
)

# Campaigns a user may name: 0-19 and the halves of the split ones. The bucket has no c9, c10 or c11 folder (C9
# is c91/c92, C10 only c102, C11 c111/c112): a listing finds them empty and the run refuses them.
CAMPAIGNS = frozenset(range(20)) | {91, 92, 101, 102, 111, 112}
SPLIT = {9: "c91 and c92", 10: "c102", 11: "c111 and c112"}


class K2(Mission):
    name = "K2"
    slug = "k2"
    id_prefix = "EPIC"
    id_prefixes = ("EPIC", "ktwo")
    id_example = "EPIC 201367065"
    # EPIC ids of K2 targets are 9 digits, 201000001..251813738 in the published catalog.
    id_range = (200_000_000, 299_999_999)
    id_digits = (9, 9)
    target_examples = "host names (K2-18) or EPIC ids (EPIC 201367065, 201367065)"
    unit_name = "campaign"
    light_curves = "long-cadence LLC files, one a campaign"
    collection = "K2"
    table = ArchiveTable(
        name="k2pandc",
        id_column="epic_hostname",  # text: "EPIC 201367065"
        columns=("epic_hostname", "hostname", "pl_name", "disposition"),
        disposition_column="disposition",
        dispositions=("CONFIRMED", "CANDIDATE", "FALSE POSITIVE", "REFUTED"),
        default_dispositions=("CONFIRMED",),
        # rowupdate moves when the archive adds or edits a row; releasedate is when it became public (can be later)
        date_columns=("rowupdate", "releasedate"),
        labels=(("CONFIRMED", 1), ("CANDIDATE", None), ("FALSE POSITIVE", 0), ("REFUTED", 0)),
    )
    products = (ProductKind(cadence_s=1800.0, subgroup="LLC", suffix="_llc.fits"),)
    own_product = "K2"
    hlsp_products = (hlsp.K2SFF, hlsp.EVEREST)
    light_curve_format = K2_LLC
    # k2pandc follows the Planetary Systems table's units: duration in hours, depth in percent; its epoch's time
    # system is in pl_tsystemref; a planet may have several solutions (default_flag = 1 marks the default one)
    ephemeris_columns = EphemerisColumns(object="pl_name", period_days="pl_orbper", epoch="pl_tranmid",
                                         duration_hours="pl_trandur", depth="pl_trandep", depth_to_ppm=1e4,
                                         time_system="pl_tsystemref", default_flag="default_flag")
    asset_uri = "k2ingest://catalog/files"  # kept from the first release: consumers schedule on it
    key_prefix = "k2/public/lightcurves/"
    data_uri_prefix = "mast:K2/url/missions/k2/lightcurves/"
    unit_param = "campaigns"
    unit_examples = "[5, 102]; split campaigns are 91/92, 101/102, 111/112"
    shard_depth = 1  # c<N>/<EPIC[:4]>00000/: a few thousand light curves each

    def resolve_names(self, names: list[str], tap: TapClient) -> dict[str, set[int]]:
        if not names:
            return {}
        rows = tap.query(f"select distinct hostname, epic_hostname from k2pandc where hostname in "
                         f"{adql_list(names)} and epic_hostname is not null", required=("hostname", "epic_hostname"))
        found: dict[str, set[int]] = {}
        for row in rows:
            found.setdefault(row["hostname"].strip(), set()).add(self.parse_id(row["epic_hostname"], "epic_hostname"))
        return found

    def adql_id(self, target_id: int) -> str:
        return self.format_id(target_id)

    def object_of_row(self, row: dict[str, str]) -> ArchiveObject:
        return ArchiveObject(target_id=self.id_of_row(row),
                             host=row["hostname"].strip(), name=row["pl_name"].strip(),
                             disposition=row["disposition"].strip())

    def mast_target_name(self, target_id: int) -> str:
        return f"ktwo{target_id:09d}"

    def parse_relative_path(self, relative_path: str, field: str) -> KeyInfo:
        match = full_match(_RELATIVE_PATH, relative_path)
        if not match:
            raise InvalidInputError(field, f"{relative_path!r} is not the path of a K2 long-cadence light curve")
        epic = match.group("epic")
        if match.group("d1") != epic[:4] or match.group("d2") != epic[4:6]:
            raise InvalidInputError(field, f"{relative_path!r}: its folders do not match EPIC {epic}")
        if int(match.group("folder")) != int(match.group("campaign")):
            raise InvalidInputError(field, f"{relative_path!r}: its folder and file campaigns differ")
        return KeyInfo(target_id=int(match.group("epic")), unit=int(match.group("campaign")))

    def check_unit(self, unit: object, field: str) -> int:
        if isinstance(unit, bool) or not isinstance(unit, int) or unit not in CAMPAIGNS:
            raise InvalidInputError(field, f"{unit!r} is not a K2 campaign (0-19, or the split campaigns 91, 92, "
                                           "101, 102, 111, 112)")
        return unit

    def unit_prefix(self, unit: int) -> str:
        return f"{self.key_prefix}c{unit}/"

    def missing_unit_hint(self, unit: int) -> str:
        return f" (campaign {unit} was split: its light curves are under {SPLIT[unit]})" if unit in SPLIT else ""

    def obs_id_of_key(self, key: str) -> str:
        info = self.parse_key(key)
        return f"ktwo{info.target_id:09d}-c{info.unit:02d}_lc"
