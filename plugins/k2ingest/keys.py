"""Bucket keys of K2 long-cadence light curves, derived from MAST dataURIs and checked strictly.

Keys come from remote replies and become file paths at the destination, so anything that does not
look exactly like a K2 LLC key is refused: no absolute paths, no ``..``, no unexpected characters.
"""

from __future__ import annotations

import re

from k2ingest.errors import InvalidInputError

DATA_URI_PREFIX = "mast:K2/url/missions/k2/lightcurves/"
KEY_PREFIX = "k2/public/lightcurves/"

# c<N>/<EPIC[:4]>00000/<EPIC[4:6]>000/ktwo<EPIC>-c<NN>_llc.fits, matched whole (fullmatch: "$" would
# also accept a trailing newline) and in ASCII only ("\d" alone accepts any script's digits, e.g. "٣").
_RELATIVE_PATH = re.compile(
    r"c(?P<folder>[0-9]{1,3})/(?P<d1>[0-9]{4})00000/(?P<d2>[0-9]{2})000/"
    r"ktwo(?P<epic>[0-9]{9})-c(?P<campaign>[0-9]{2,3})_llc\.fits"
)


def _match(relative_path: str, field: str) -> re.Match:
    match = _RELATIVE_PATH.fullmatch(relative_path) if isinstance(relative_path, str) else None
    if not match:
        raise InvalidInputError(field, f"{relative_path!r} is not the path of a K2 long-cadence light curve")
    epic = match.group("epic")
    if match.group("d1") != epic[:4] or match.group("d2") != epic[4:6]:
        raise InvalidInputError(field, f"{relative_path!r}: its folders do not match EPIC {epic}")
    if int(match.group("folder")) != int(match.group("campaign")):
        raise InvalidInputError(field, f"{relative_path!r}: its folder and file campaigns differ")
    return match


def source_key_from_data_uri(data_uri: str) -> str:
    """``mast:K2/url/missions/k2/lightcurves/c3/...`` -> ``k2/public/lightcurves/c3/...``."""
    if not isinstance(data_uri, str) or not data_uri.startswith(DATA_URI_PREFIX):
        raise InvalidInputError("dataURI", f"{data_uri!r} is not a K2 light-curve dataURI")
    relative = data_uri[len(DATA_URI_PREFIX):]
    _match(relative, "dataURI")
    return KEY_PREFIX + relative


def validate_source_key(key: str) -> str:
    """Return the key if it is a well-formed K2 LLC key in the public bucket; raise otherwise."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        raise InvalidInputError("key", f"{key!r} is not under {KEY_PREFIX}")
    _match(key[len(KEY_PREFIX):], "key")
    return key


def campaign_of(key: str) -> int:
    """The K2 campaign of a validated key (91, 102 ... for split campaigns)."""
    return int(_match(key[len(KEY_PREFIX):], "key").group("campaign"))


def epic_of(key: str) -> int:
    return int(_match(key[len(KEY_PREFIX):], "key").group("epic"))
