"""Checks a copied file must pass before it counts: its size, its FITS sums and its sha256.

The FITS sums (FITS standard 4.0: its data integrity keywords, and appendix J) are 32-bit ones' complement sums
of big-endian words. An HDU's ``CHECKSUM`` card makes the sum of the whole HDU, header and data with their fill,
-0 (0xFFFFFFFF); ``DATASUM``, where a writer adds it, is the sum of the data alone. MAST's Kepler, K2, TESS SPOC
and TESS-SPOC light curves carry a ``CHECKSUM`` in every HDU and no ``DATASUM``: a missing ``DATASUM`` is no
fault here. astropy's ``fits.open(checksum=True)`` takes a missing ``DATASUM`` as 0 and calls every such file
corrupt, so it is not used: the sums are computed here.

When every HDU carries a ``CHECKSUM``, the HDUs fill the file exactly and the expected extension is among them
(``_read_layout`` reads the few header cards that place each HDU: BITPIX, NAXISn, PCOUNT, GCOUNT, FITS standard
4.4.1), astropy is not used at all. Any other file (some HLSPs carry no sums) is opened and checked whole by
astropy (structure, cards, damage warnings). Either way the file is then read once, in chunks, for its sha256
and every HDU's sums. A file in which some HDUs carry a ``CHECKSUM`` and others do not is refused: one damaged
byte in a ``CHECKSUM`` card's keyword hides that HDU's sum so.
"""

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
    fits_checksum: bool  # True when FITS sums (CHECKSUM, DATASUM) were present and matched


@dataclass(frozen=True)
class Hdu:
    """Where one HDU lies in its file, and the sums its header declares (None when it has no such card)."""

    index: int
    name: str
    header_start: int
    data_start: int
    end: int  # where its data's fill ends: the next HDU's start
    checksum: str | None
    datasum: str | None

    @property
    def label(self) -> str:
        return f"HDU {self.index} ({self.name})" if self.name else f"HDU {self.index}"


def check_size(actual: int, expected: int, what: str) -> None:
    if actual != expected:
        raise VerificationError(f"{what}: {actual} bytes, expected {expected}")


_DAMAGE_WORDS = ("verification failed", "corrupted", "truncated")


def verify_file(path: Path, expected_sizes: dict[str, int], extension: str = "LIGHTCURVE") -> Verified:
    """Verify a local file against each expected size (MAST's, the source's), its FITS sums, then hash it."""
    size = path.stat().st_size
    for what, expected in expected_sizes.items():
        check_size(size, expected, f"{path.name} against {what}")
    with open(path, "rb") as handle:
        hdus = _read_layout(handle, size, extension)
        if hdus is None:
            hdus = _fits_layout(path, extension)
            _check_sums_everywhere_or_nowhere(hdus, path)
        _check_within(hdus, size, path)
        handle.seek(0)
        sha256, sums = _hash_and_sum(handle, hdus)
    for hdu, (header_sum, data_sum) in zip(hdus, sums, strict=True):
        _check_sums(hdu, header_sum, data_sum, path)
    carried = any(hdu.checksum is not None or hdu.datasum is not None for hdu in hdus)
    return Verified(size=size, sha256=sha256, fits_checksum=carried)


def _check_sums_everywhere_or_nowhere(hdus: list[Hdu], path: Path) -> None:
    without = [hdu.label for hdu in hdus if hdu.checksum is None]
    if without and len(without) < len(hdus):
        raise VerificationError(f"{path.name}: damaged FITS file (no CHECKSUM card in {', '.join(without)}, "
                                "though the other HDUs carry one)")


def _check_within(hdus: list[Hdu], size: int, path: Path) -> None:
    """Every HDU whole in the file, on FITS blocks (so that no 32-bit word of the sums straddles two HDUs)."""
    for hdu in hdus:
        if hdu.end > size:
            raise VerificationError(f"{path.name}: damaged FITS file (truncated: {hdu.label} ends at byte "
                                    f"{hdu.end}, the file at {size})")
        if any(offset % BLOCK for offset in (hdu.header_start, hdu.data_start, hdu.end)):
            raise VerificationError(f"{path.name}: damaged FITS file ({hdu.label} is not on 2880-byte blocks)")


def _hash_and_sum(handle: Any, hdus: list[Hdu]) -> tuple[str, list[tuple[int, int]]]:
    """One read of the file: its sha256, and the ones' complement sums (not yet folded) of each HDU's header and
    data. The regions start and end on 4-byte words and a buffered ``read(CHUNK)`` is short only at the end
    of the file, so every chunk but the last starts on a word too."""
    import numpy as np

    digest = hashlib.sha256()
    regions = [(hdu.header_start, hdu.data_start) for hdu in hdus] + [(hdu.data_start, hdu.end) for hdu in hdus]
    sums = [0] * len(regions)
    offset = 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        words = np.frombuffer(chunk, dtype=">u4", count=len(chunk) // 4)
        for i, (start, end) in enumerate(regions):
            low, high = max(start, offset), min(end, offset + len(chunk))
            if low < high:
                sums[i] += int(words[(low - offset) // 4:(high - offset) // 4].sum(dtype=np.uint64))
        offset += len(chunk)
    count = len(hdus)
    return digest.hexdigest(), list(zip(sums[:count], sums[count:], strict=True))


def _check_sums(hdu: Hdu, header_sum: int, data_sum: int, path: Path) -> None:
    if hdu.checksum is not None:
        total = _fold(header_sum + data_sum)
        if total != 0xFFFFFFFF:
            raise VerificationError(f"{path.name}: damaged FITS file ({hdu.label}: CHECKSUM does not match, the "
                                    f"HDU sums to {total:#010x}, not -0)")
    if hdu.datasum is not None and hdu.datasum.strip() != str(_fold(data_sum)):
        raise VerificationError(f"{path.name}: damaged FITS file ({hdu.label}: DATASUM {hdu.datasum.strip()}, "
                                f"the data sums to {_fold(data_sum)})")


BLOCK = 2880  # FITS headers and data come in blocks of 2880 bytes
CARD = 80
_NOT_TEXT = re.compile(rb"[^\x20-\x7e]")  # a header holds printable ASCII only
_STRING = re.compile(r"'((?:[^']|'')*)'")


def _read_layout(handle: Any, size: int, extension: str) -> list[Hdu] | None:
    """Each HDU's place and sums, from the headers alone; None unless the file is a primary HDU then extensions,
    each header with its END card and a CHECKSUM, the ``extension`` among them, and the HDUs end exactly at the
    end of the file."""
    hdus: list[Hdu] = []
    offset = 0
    try:
        while offset < size:
            first, cards, length = _read_header(handle, offset)
            if first != ("XTENSION" if hdus else "SIMPLE") or (not hdus and _logical(cards, "SIMPLE") is not True):
                return None
            checksum, data_size = _string(cards, "CHECKSUM"), _data_size(cards)
            if checksum is None or data_size is None:
                return None
            end = offset + length + _padded(data_size)
            name = (_string(cards, "EXTNAME") or ("PRIMARY" if not hdus else "")).upper()
            hdus.append(Hdu(len(hdus), name, offset, offset + length, end, checksum, _string(cards, "DATASUM")))
            offset = end
    except ValueError:  # a card that is not what the standard says: astropy's verification says what is wrong
        return None
    names = {hdu.name for hdu in hdus}
    return hdus if offset == size and extension.upper() in names else None


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


def _fits_layout(path: Path, extension: str) -> list[Hdu]:
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
                hdus = []
                for index, hdu in enumerate(hdul):
                    info = hdul.fileinfo(index)
                    hdus.append(Hdu(index, hdu.name.upper(), info["hdrLoc"], info["datLoc"],
                                    info["datLoc"] + info["datSpan"], _card_text(hdu.header, "CHECKSUM"),
                                    _card_text(hdu.header, "DATASUM")))
        except VerificationError:
            raise
        except Exception as err:  # astropy raises many kinds for a damaged file
            raise VerificationError(f"{path.name}: not a readable FITS file ({err})") from err
    damage = [str(w.message) for w in caught if any(word in str(w.message).lower() for word in _DAMAGE_WORDS)]
    if damage:
        raise VerificationError(f"{path.name}: damaged FITS file ({damage[0].strip()})")
    return hdus


def _card_text(header: Any, keyword: str) -> str | None:
    value = header.get(keyword)
    return None if value is None else str(value).rstrip()


def _fold(value: int) -> int:
    """The 32-bit ones' complement of a sum of words: carries added back in (end-around carry)."""
    while value >> 32:
        value = (value & 0xFFFFFFFF) + (value >> 32)
    return value
