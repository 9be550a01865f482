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
    the headers alone (``_read_layout``: astropy parses the cards) when every HDU carries both sums and the
    HDUs fill the file exactly, as in every MAST light curve: the sums then cover every byte. Any other file
    is opened and verified by astropy (structure, cards, damage warnings), as before. Letting astropy verify
    the sums (``fits.open(checksum=True)``) loads every HDU's data: memory grows with the file (540 MB for a
    500 MB file) and it costs twice the CPU; building astropy's HDU objects alone costs five times reading
    the headers (benchmarks/README.md).
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
_END_CARD = b"END" + b" " * 77
_NOT_TEXT = re.compile(rb"[^\x20-\x7e]")  # a header holds printable ASCII only


def _read_layout(handle: Any, size: int, extension: str) -> Layout | None:
    """(header offset, data offset, data size with its fill, CHECKSUM, DATASUM) of each HDU, from the headers
    alone; None unless the file is a primary HDU then extensions, each header with its END card and both
    sums, the ``extension`` among them, and the HDUs end exactly at the end of the file."""
    from astropy.io import fits

    layout: Layout = []
    names = set()
    offset = 0
    try:
        while offset < size:
            raw = _read_header(handle, offset)
            header = fits.Header.fromstring(raw.decode("ascii")) if raw else None
            first = header.cards[0].keyword if header else ""
            if first != ("XTENSION" if layout else "SIMPLE") or (not layout and header["SIMPLE"] is not True):
                return None
            checksum, datasum, data_size = header.get("CHECKSUM"), header.get("DATASUM"), _data_size(header)
            if checksum is None or datasum is None or data_size is None:
                return None
            layout.append((offset, offset + len(raw), _padded(data_size), checksum, datasum))
            names.add(str(header.get("EXTNAME", "")).strip().upper())
            offset += len(raw) + _padded(data_size)
    except Exception:  # a damaged card: astropy's verification says what is wrong
        return None
    return layout if offset == size and extension.upper() in names else None


def _read_header(handle: Any, offset: int) -> bytes:
    """The header at ``offset``: whole blocks of text up to the one holding its END card (b"" if there is none)."""
    handle.seek(offset)
    blocks = []
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK or _NOT_TEXT.search(block):
            return b""
        blocks.append(block)
        if any(block[i:i + 80] == _END_CARD for i in range(0, BLOCK, 80)):
            return b"".join(blocks)


def _data_size(header: Any) -> int | None:
    """Bytes of an HDU's data without its fill (FITS standard 4.4.1): |BITPIX| / 8 * GCOUNT * (PCOUNT + the
    product of the NAXISn); None for random groups or a value out of range."""
    axes = [int(header[f"NAXIS{i}"]) for i in range(1, int(header["NAXIS"]) + 1)]
    if not axes:
        return 0
    gcount, pcount = int(header.get("GCOUNT", 1)), int(header.get("PCOUNT", 0))
    if header.get("GROUPS") is not None or min(axes) < 0 or gcount < 0 or pcount < 0:
        return None
    elements = 1
    for axis in axes:
        elements *= axis
    return abs(int(header["BITPIX"])) // 8 * gcount * (pcount + elements)


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
