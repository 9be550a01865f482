"""Checks a copied file must pass before it counts: size, FITS CHECKSUM/DATASUM, and its sha256."""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightcurve_ingest.settings import IO_CHUNK_BYTES as CHUNK


class VerificationError(Exception):
    """A file that must not be kept: it is not what the source and MAST say it is."""


@dataclass(frozen=True)
class Verified:
    size: int
    sha256: str
    fits_checksum: bool  # True when CHECKSUM/DATASUM were present and matched


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_size(actual: int, expected: int, what: str) -> None:
    if actual != expected:
        raise VerificationError(f"{what}: {actual} bytes, expected {expected}")


_DAMAGE_WORDS = ("verification failed", "corrupted", "truncated")


def verify_file(path: Path, expected_sizes: dict[str, int], extension: str = "LIGHTCURVE") -> Verified:
    """Verify a local file against each expected size (MAST's, the source's), its FITS sums, then hash it.

    The CHECKSUM/DATASUM of every HDU are summed here chunk by chunk, as the FITS standard defines them (32-bit
    ones' complement sums: DATASUM over the data, the whole HDU summing to -0). Where each HDU is is read from
    the header cards that give it (``_read_layout``: BITPIX, NAXISn, PCOUNT, GCOUNT, FITS standard 4.4.1) when
    every HDU carries both sums and the HDUs fill the file exactly, as every MAST light curve does: the sums
    then cover every byte, headers included. Any other file is opened and verified whole by astropy
    (structure, cards, damage warnings), as before. Letting astropy verify the sums (``fits.open(checksum=
    True)``) loads every HDU's data: memory grows with the file (540 MB for a 500 MB file) and it costs twice
    the CPU; building astropy's HDU objects alone costs 4 ms a light curve, ten times reading the few cards
    (benchmarks/README.md).
    """
    size = path.stat().st_size
    for what, expected in expected_sizes.items():
        check_size(size, expected, f"{path.name} against {what}")
    carried = False
    with open(path, "rb") as handle:
        layout = _read_layout(handle, size, extension) or _fits_layout(path, extension)
        for header_start, data_start, data_size, checksum, datasum in layout:
            data_sum = _ones_complement_sum(handle, data_start, data_size, path)
            if datasum is not None:
                carried = True
                if str(datasum).strip() != str(data_sum):
                    raise VerificationError(f"{path.name}: damaged FITS file (DATASUM {datasum}, data sums to "
                                            f"{data_sum})")
            if checksum is not None:
                carried = True
                header_sum = _ones_complement_sum(handle, header_start, data_start - header_start, path)
                if _fold(header_sum + data_sum) != 0xFFFFFFFF:
                    raise VerificationError(f"{path.name}: damaged FITS file (CHECKSUM does not match)")
    return Verified(size=size, sha256=sha256_of(path), fits_checksum=carried)


Layout = list[tuple[int, int, int, Any, Any]]
BLOCK = 2880  # FITS headers and data come in blocks of 2880 bytes
CARD = 80
_NOT_TEXT = re.compile(rb"[^\x20-\x7e]")  # a header holds printable ASCII only
_STRING = re.compile(r"'((?:[^']|'')*)'")


def _read_layout(handle: Any, size: int, extension: str) -> Layout | None:
    """(header offset, data offset, data size with its fill, CHECKSUM, DATASUM) of each HDU, from the headers
    alone; None unless the file is a primary HDU then extensions, each header with its END card and both
    sums, the ``extension`` among them, and the HDUs end exactly at the end of the file."""
    layout: Layout = []
    names = set()
    offset = 0
    try:
        while offset < size:
            first, cards, length = _read_header(handle, offset)
            if first != ("XTENSION" if layout else "SIMPLE") or (not layout and _logical(cards, "SIMPLE") is not True):
                return None
            checksum, datasum, data_size = _string(cards, "CHECKSUM"), _string(cards, "DATASUM"), _data_size(cards)
            if checksum is None or datasum is None or data_size is None:
                return None
            layout.append((offset, offset + length, _padded(data_size), checksum, datasum))
            names.add((_string(cards, "EXTNAME") or "").strip().upper())
            offset += length + _padded(data_size)
    except ValueError:  # a card that is not what the standard says: astropy's verification says what is wrong
        return None
    return layout if offset == size and extension.upper() in names else None


def _read_header(handle: Any, offset: int) -> tuple[str, dict[str, str], int]:
    """The header at ``offset``: its first keyword, the value of each keyword (its first card; the text after
    ``= ``, comment included) and its length in bytes, up to the block holding its END card."""
    handle.seek(offset)
    first, cards, length = "", {}, 0
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK or _NOT_TEXT.search(block):
            raise ValueError("not a header")
        length += BLOCK
        text = block.decode("ascii")
        for start in range(0, BLOCK, CARD):
            keyword = text[start:start + 8].rstrip()
            first = first or keyword
            if keyword == "END":
                return first, cards, length
            if text[start + 8:start + 10] == "= ":
                cards.setdefault(keyword, text[start + 10:start + CARD].strip())


def _string(cards: dict[str, str], keyword: str) -> str | None:
    """A string value (``'...'``, quotes doubled inside), without its trailing blanks; None if absent."""
    if keyword not in cards:
        return None
    match = _STRING.match(cards[keyword])
    if not match:
        raise ValueError(f"{keyword} is not a string")
    return match.group(1).replace("''", "'").rstrip()


def _logical(cards: dict[str, str], keyword: str) -> bool | None:
    value = cards.get(keyword, "").split("/", 1)[0].strip()
    return {"T": True, "F": False}.get(value)


def _integer(cards: dict[str, str], keyword: str, default: int | None = None) -> int:
    if keyword not in cards:
        if default is None:
            raise ValueError(f"no {keyword}")
        return default
    return int(cards[keyword].split("/", 1)[0])


def _data_size(cards: dict[str, str]) -> int | None:
    """Bytes of an HDU's data without its fill (FITS standard 4.4.1): |BITPIX| / 8 * GCOUNT * (PCOUNT + the
    product of the NAXISn); None for random groups or a value out of range."""
    axes = [_integer(cards, f"NAXIS{i}") for i in range(1, _integer(cards, "NAXIS") + 1)]
    bits = _integer(cards, "BITPIX")
    if not axes:
        return 0
    gcount, pcount = _integer(cards, "GCOUNT", 1), _integer(cards, "PCOUNT", 0)
    if "GROUPS" in cards or min(axes) < 0 or gcount < 0 or pcount < 0 or bits not in (8, 16, 32, 64, -32, -64):
        return None
    elements = 1
    for axis in axes:
        elements *= axis
    return abs(bits) // 8 * gcount * (pcount + elements)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _fits_layout(path: Path, extension: str) -> Layout:
    """The same layout as ``_read_layout``, from astropy's HDUs after ``verify("exception")``; the data is not
    read."""
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyUserWarning)
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                hdul.verify("exception")
                if extension not in hdul:
                    raise VerificationError(f"{path.name}: no {extension} extension")
                layout = []
                for index, hdu in enumerate(hdul):
                    info = hdul.fileinfo(index)
                    layout.append((info["hdrLoc"], info["datLoc"], info["datSpan"], hdu.header.get("CHECKSUM"),
                                   hdu.header.get("DATASUM")))
        except VerificationError:
            raise
        except Exception as err:  # astropy raises many kinds for a damaged file
            raise VerificationError(f"{path.name}: not a readable FITS file ({err})") from err
    damage = [str(w.message) for w in caught if any(word in str(w.message).lower() for word in _DAMAGE_WORDS)]
    if damage:
        raise VerificationError(f"{path.name}: damaged FITS file ({damage[0].strip()})")
    return layout


def _ones_complement_sum(handle: Any, start: int, length: int, path: Path) -> int:
    """The FITS checksum sum of ``length`` bytes at ``start``: big-endian 32-bit words, end-around carry."""
    import numpy as np

    handle.seek(start)
    total, left = 0, length
    while left > 0:
        chunk = handle.read(min(CHUNK, left))
        if not chunk:
            raise VerificationError(f"{path.name}: damaged FITS file (truncated: data ends before its HDU)")
        left -= len(chunk)
        if len(chunk) % 4:  # not in a valid file (regions are whole 2880-byte blocks): pad as astropy does
            chunk += bytes(4 - len(chunk) % 4)
        total = _fold(total + int(np.frombuffer(chunk, dtype=">u4").sum(dtype=np.uint64)))
    return total


def _fold(value: int) -> int:
    while value >> 32:
        value = (value & 0xFFFFFFFF) + (value >> 32)
    return value
