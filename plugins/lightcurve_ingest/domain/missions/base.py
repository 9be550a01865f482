"""What every mission has, and the one class each mission module fills in with only what differs."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lightcurve_ingest.domain.ephemerides import EphemerisColumns
from lightcurve_ingest.domain.formats import LightCurveFormat, product_format
from lightcurve_ingest.domain.missions.hlsp import HLSP_DATA_URI_PREFIX, HLSP_KEY_PREFIX, HlspProduct
from lightcurve_ingest.errors import InvalidInputError

if TYPE_CHECKING:
    from lightcurve_ingest.clients.tap import TapClient
    from lightcurve_ingest.domain.payloads import Target

# Host names as the archive spells them: "K2-18", "HD 3167", "BD+20 594", "pi Men", "Kepler-10". Anything else
# is refused before it can reach a query.
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+\-]{0,63}")


@dataclass(frozen=True)
class ArchiveTable:
    """The Exoplanet Archive table (TAP) a mission's targets and their labels come from."""

    name: str
    id_column: str
    columns: tuple[str, ...]  # what is read of each row (the id column first)
    disposition_column: str
    dispositions: tuple[str, ...]  # the values a user may ask for, best verdict first
    default_dispositions: tuple[str, ...]
    date_columns: tuple[str, ...]  # a row is new in a window when one of these falls in it
    # each disposition's training label: 1 a planet, 0 a false positive, None a candidate (kept for inference)
    labels: tuple[tuple[str, int | None], ...] = ()


@dataclass(frozen=True)
class ArchiveObject:
    """One row of a mission's table: a planet, a KOI or a TOI, and the star it belongs to."""

    target_id: int
    host: str  # the star's name ("" when the row gives none)
    name: str  # the object's name(s) as printed in the catalog
    disposition: str


@dataclass(frozen=True)
class ObjectSource:
    """A table a run may take its targets and their labels from: the table, where it keeps each object's transits
    (None: nowhere), and how one of its rows (its ``columns``) becomes an object."""

    table: ArchiveTable
    ephemeris_columns: EphemerisColumns | None
    object_of_row: Callable[[dict[str, str]], ArchiveObject]


@dataclass(frozen=True)
class ProductKind:
    """One kind of light curve a mission copies: MAST's cadence (``t_exptime``), product subgroup and file name end."""

    cadence_s: float
    subgroup: str
    suffix: str


@dataclass(frozen=True)
class KeyInfo:
    """What a valid bucket key says of its file."""

    target_id: int
    unit: int | None
    product: str = ""  # the product whose key it is ("" : the mission's own)


class Mission(ABC):
    """One space-telescope mission: its ids, archive table, MAST query, bucket keys and observing unit."""

    name: str  # as MAST and the catalog spell it: "K2", "Kepler", "TESS"
    slug: str  # in DAG ids and default folders: "k2", "kepler", "tess"
    id_prefix: str  # "EPIC", "KIC", "TIC"
    id_prefixes: tuple[str, ...]  # spellings that mark a user's text as an id, e.g. ("EPIC", "ktwo")
    id_example: str  # "EPIC 201367065"
    id_range: tuple[int, int]
    id_digits: tuple[int, int]  # how many digits a written id may have (leading zeros included)
    target_examples: str  # how a user may name targets, for the targets param's description
    unit_name: str  # "campaign", "quarter", "sector"
    light_curves: str  # what its DAG copies, in a few words, for the DAG's documentation
    collection: str  # MAST's obs_collection
    table: ArchiveTable
    products: tuple[ProductKind, ...]  # the kinds of its own pipeline's light curves
    own_product: str  # its pipeline's product as MAST's provenance_name names it: "K2", "Kepler", "SPOC"
    hlsp_products: tuple[HlspProduct, ...] = ()  # the HLSPs its DAG may copy too (the ``products`` param)
    light_curve_format: LightCurveFormat  # which columns of its own files are what
    ephemeris_columns: EphemerisColumns | None = None  # where its table keeps an object's transits (None: nowhere)
    fast_products: tuple[ProductKind, ...] = ()  # added by the include_fast_cadence param, where there is one
    keeps_observing: bool = False  # scheduled runs also look for newly released light curves of known targets
    asset_uri: str
    key_prefix: str  # every key of the mission's light curves in the public bucket is below it
    data_uri_prefix: str  # MAST's dataURIs of them start so (in any case: mast:KEPLER/ and mast:Kepler/ both come)
    # Whole observing units (mirror runs): the param naming them ("campaigns", "sectors"; None: no such mode) and
    # how many folder levels below a unit's prefix make one shard (one mapped task).
    unit_param: str | None = None
    unit_examples: str = ""  # units to show in the param's description, e.g. "[1, 2]" ("": none shown)
    shard_depth: int = 1

    @property
    def dag_id(self) -> str:
        return f"{self.slug}_lightcurve_ingest"

    @property
    def asset_name(self) -> str:
        return f"{self.slug}_lightcurve_catalog"

    # --- ids and names -------------------------------------------------------------------------------------
    def format_id(self, target_id: int) -> str:
        return f"{self.id_prefix} {target_id}"

    def label(self, target: Target) -> str:
        return target.name or self.format_id(target.target_id)

    def looks_like_id(self, text: str) -> bool:
        """True when a user's text is meant as an id (digits, or one of the mission's id prefixes)."""
        text = str(text).strip()
        return text.isdigit() or any(text.lower().startswith(p.lower()) for p in self.id_prefixes)

    def parse_id(self, text: str, field: str = "targets") -> int:
        """Read an id written plainly or with a prefix (``EPIC 201367065``, ``KIC 11904151``, ``TIC 261136679``)."""
        prefixes = "|".join(re.escape(p) for p in self.id_prefixes)
        # matched whole and in ASCII: "\d" alone would take any script's digits
        match = re.fullmatch(rf"(?:(?:{prefixes})[ _-]?)?([0-9]+)", str(text).strip(), re.IGNORECASE | re.ASCII)
        low, high = self.id_range
        fewest, most = self.id_digits
        if not match:
            raise InvalidInputError(field, f"{text!r} is not {self._an_id} (e.g. '{self.id_example}')")
        value = int(match.group(1))
        if not fewest <= len(match.group(1)) <= most or not low <= value <= high:
            raise InvalidInputError(field, f"{text!r} is not {self._an_id}: {self.name} {self.id_prefix} ids have "
                                           f"{self._digits_text}, from {low} to {high}")
        return value

    @property
    def _an_id(self) -> str:
        return f"an {self.id_prefix} id" if self.id_prefix[0] in "AEIOU" else f"a {self.id_prefix} id"

    @property
    def _digits_text(self) -> str:
        fewest, most = self.id_digits
        return f"{most} digits" if fewest == most else f"{fewest} to {most} digits"

    def validate_host_name(self, text: str, field: str = "targets") -> str:
        """A name safe to send to the archive; anything else is refused by name."""
        name = str(text).strip()
        if not _HOST_NAME.fullmatch(name):
            raise InvalidInputError(
                field, f"{text!r} is not a valid host name (letters, digits, space and . _ + - only, at most 64 "
                       "characters)")
        return name

    def split_user_targets(self, values: list[Any], field: str = "targets") -> tuple[list[int], list[str]]:
        """Split user-given targets into ids and names, validating each."""
        if not values:
            raise InvalidInputError(field, f"the target list is empty; give at least one host name or "
                                           f"{self.id_prefix} id, or omit it")
        ids: list[int] = []
        names: list[str] = []
        for value in values:
            if not isinstance(value, str):
                raise InvalidInputError(field, f"{value!r} is not a string")
            if self.looks_like_id(value):
                ids.append(self.parse_id(value, field))
            else:
                names.append(self.validate_host_name(value, field))
        return ids, names

    @abstractmethod
    def resolve_names(self, names: list[str], tap: TapClient) -> dict[str, set[int]]:
        """The ids each name stands for, looked up in the archive; names it does not know are left out."""

    # --- the archive table ---------------------------------------------------------------------------------
    def adql_id(self, target_id: int) -> str | int:
        """The value of the table's id column for a target (an integer unless the table stores text)."""
        return target_id

    def id_of_row(self, row: dict[str, str]) -> int:
        return self.parse_id(row[self.table.id_column], self.table.id_column)

    @abstractmethod
    def object_of_row(self, row: dict[str, str]) -> ArchiveObject:
        """One row of ``table`` (its ``columns``) as an object of a star."""

    def other_object_sources(self) -> tuple[ObjectSource, ...]:
        """Tables besides ``table`` a run may take its targets from (the ``object_table`` param); none here."""
        return ()

    @property
    def object_sources(self) -> dict[str, ObjectSource]:
        """Every table a run may take its targets from, by name; the mission's own ``table`` first (the default)."""
        own = ObjectSource(self.table, self.ephemeris_columns, self.object_of_row)
        return {own.table.name: own} | {s.table.name: s for s in self.other_object_sources()}

    def object_source(self, name: Any, field: str = "object_table") -> ObjectSource:
        """The table a run asked for by name; any other name is refused."""
        sources = self.object_sources
        if not isinstance(name, str) or name not in sources:
            raise InvalidInputError(field, f"{name!r} is not a {self.name} object table; known: {', '.join(sources)}")
        return sources[name]

    # --- MAST ----------------------------------------------------------------------------------------------
    @abstractmethod
    def mast_target_name(self, target_id: int) -> str:
        """The ``target_name`` MAST's observations of this target carry."""

    def product_kinds(self, include_fast_cadence: bool = False) -> tuple[ProductKind, ...]:
        return self.products + (self.fast_products if include_fast_cadence else ())

    # --- products ------------------------------------------------------------------------------------------
    @property
    def product_names(self) -> tuple[str, ...]:
        """Every product its DAG may copy, its own pipeline's first (the ``products`` param's choices)."""
        return (self.own_product, *(p.name for p in self.hlsp_products))

    def check_products(self, values: Any, field: str = "products") -> tuple[str, ...]:
        """The products a user asked for, each one of the mission's, once each; anything else is refused."""
        allowed = ", ".join(self.product_names)
        if not isinstance(values, list | tuple) or not values:
            raise InvalidInputError(field, f"{values!r} is not a list of products; choose from {allowed}")
        for value in values:
            if value not in self.product_names:
                raise InvalidInputError(field, f"{value!r} is not a {self.name} product; allowed: {allowed}")
        return tuple(dict.fromkeys(values))

    def format_of(self, product: str = "") -> LightCurveFormat:
        """How a file of one of its products is read ("" or its own: its pipeline's format)."""
        if not product or product == self.own_product:
            return self.light_curve_format
        return product_format(product)

    def hlsp(self, name: str) -> HlspProduct:
        return {p.name: p for p in self.hlsp_products}[name]

    def cadence_of_key(self, key: str) -> float:
        """A file's cadence in seconds from its key: an HLSP's by its unit, the mission's own by its kind (the file
        name's end: TESS's 20-second ``-a_fast-lc.fits``)."""
        info = self.parse_key(key)
        if info.product:
            return self.hlsp(info.product).cadence_s(info.unit or 0)
        kinds = [k for k in self.fast_products + self.products if key.endswith(k.suffix)] or list(self.products)
        return kinds[0].cadence_s

    # --- bucket keys ---------------------------------------------------------------------------------------
    def key_from_data_uri(self, data_uri: str) -> str:
        """The public-bucket key of a product's dataURI, checked against its product's key pattern: an HLSP's
        (``mast:HLSP/<folder>/...`` -> ``mast/hlsp/<folder>/...``) or the mission's own."""
        for product in self.hlsp_products:
            relative = strip_prefix_ignoring_case(data_uri, product.data_uri_prefix)
            if relative is not None:
                product.parse_relative_path(relative, "dataURI")
                return product.key_prefix + relative
        if strip_prefix_ignoring_case(data_uri, HLSP_DATA_URI_PREFIX) is not None:
            raise InvalidInputError("dataURI", f"{data_uri!r} is not the dataURI of a {self.name} HLSP the "
                                               f"project copies ({', '.join(self.product_names[1:]) or 'none'})")
        return self.own_key_from_data_uri(data_uri)

    def own_key_from_data_uri(self, data_uri: str) -> str:
        """The key of a dataURI of the mission's own light curves. Here the key repeats the dataURI's path below
        ``key_prefix`` (K2, Kepler); a mission whose keys are built otherwise overrides this."""
        relative = strip_prefix_ignoring_case(data_uri, self.data_uri_prefix)
        if relative is None:
            raise InvalidInputError("dataURI", f"{data_uri!r} is not a {self.name} light-curve dataURI")
        self.parse_relative_path(relative, "dataURI")
        return self.key_prefix + relative

    def parse_key(self, key: str, field: str = "key") -> KeyInfo:
        """What a key says of its file; a key that does not match its product's pattern exactly is refused."""
        for product in self.hlsp_products:
            if isinstance(key, str) and key.startswith(product.key_prefix):
                target_id, unit = product.parse_relative_path(key[len(product.key_prefix):], field)
                return KeyInfo(target_id=target_id, unit=unit, product=product.name)
        if not isinstance(key, str) or not key.startswith(self.key_prefix):
            raise InvalidInputError(field, f"{key!r} is not under {self.key_prefix}" + "".join(
                f" or {p.key_prefix}" for p in self.hlsp_products))
        return self.parse_relative_path(key[len(self.key_prefix):], field)

    def product_of_key(self, key: str) -> str:
        """The product a valid key belongs to, by name."""
        return self.parse_key(key).product or self.own_product

    @abstractmethod
    def parse_relative_path(self, relative_path: str, field: str) -> KeyInfo:
        """What the part of a key below ``key_prefix`` says of its file; anything but the exact pattern is refused."""

    def validate_key(self, key: str, field: str = "key") -> str:
        self.parse_key(key, field)
        return key

    def data_uri_of_key(self, key: str) -> str:
        """MAST's dataURI of a key (the inverse of ``key_from_data_uri``)."""
        if key.startswith(HLSP_KEY_PREFIX):
            return HLSP_DATA_URI_PREFIX + key[len(HLSP_KEY_PREFIX):]
        return self.own_data_uri_of_key(key)

    def own_data_uri_of_key(self, key: str) -> str:
        """The dataURI of a key of the mission's own light curves."""
        return self.data_uri_prefix + key[len(self.key_prefix):]

    # --- whole observing units (mirror runs) ---------------------------------------------------------------
    def check_unit(self, unit: Any, field: str) -> int:
        """A unit number a user asked to mirror; one the mission cannot have is refused naming ``field``."""
        raise InvalidInputError(field, f"{self.name} has no whole-{self.unit_name} mirror mode")

    def unit_prefix(self, unit: int) -> str:
        """The public-bucket prefix holding every file of one observing unit."""
        raise NotImplementedError(f"{self.name} has no whole-{self.unit_name} mirror mode")

    def missing_unit_hint(self, unit: int) -> str:
        """What to tell a user asking for a unit the bucket does not hold (e.g. where a split campaign went)."""
        return ""

    def obs_id_of_key(self, key: str) -> str:
        """MAST's ``obs_id`` of the observation a light-curve key belongs to."""
        raise NotImplementedError(f"{self.name} has no whole-{self.unit_name} mirror mode")


def strip_prefix_ignoring_case(text: Any, prefix: str) -> str | None:
    """``text`` without ``prefix`` (compared case-insensitively: dataURIs come as ``mast:KEPLER/`` and
    ``mast:Kepler/``), or None if it does not start with it."""
    if not isinstance(text, str) or not text.lower().startswith(prefix.lower()):
        return None
    return text[len(prefix):]


def full_match(pattern: re.Pattern[str], text: Any) -> re.Match[str] | None:
    """Match whole (``$`` would also accept a trailing newline), and only strings."""
    return pattern.fullmatch(text) if isinstance(text, str) else None
