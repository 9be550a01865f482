"""Checks a copied file must pass before it counts: size, FITS CHECKSUM/DATASUM, and its sha256."""

from __future__ import annotations

import hashlib
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

    astropy reads and checks the headers (structure, cards, the ``extension``, damage warnings); the
    CHECKSUM/DATASUM of every HDU are then summed here chunk by chunk, as the FITS standard defines them
    (32-bit ones' complement sums: DATASUM over the data, the whole HDU summing to -0). Letting astropy
    verify them (``fits.open(checksum=True)``) loads every HDU's data: memory grows with the file (540 MB
    for a 500 MB file) and it costs twice the CPU (benchmarks/README.md).
    """
    size = path.stat().st_size
    for what, expected in expected_sizes.items():
        check_size(size, expected, f"{path.name} against {what}")
    carried = False
    with open(path, "rb") as handle:
        for header_start, data_start, data_size, checksum, datasum in _fits_layout(path, extension):
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


def _fits_layout(path: Path, extension: str) -> list[tuple[int, int, int, Any, Any]]:
    """(header offset, data offset, data size with its fill, CHECKSUM, DATASUM) of each HDU; the data is not read."""
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
