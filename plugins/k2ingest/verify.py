"""Checks a copied file must pass before it counts: size, FITS CHECKSUM/DATASUM, and its sha256."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024


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


def check_fits(path: Path, extension: str = "LIGHTCURVE") -> bool:
    """Open the FITS file, check it has ``extension`` and every HDU's CHECKSUM/DATASUM.

    Returns True if any HDU carried the sums. astropy only warns of damage, so warnings count.
    """
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyUserWarning)
        try:
            with fits.open(path, checksum=True, memmap=False) as hdul:
                hdul.verify("exception")
                for hdu in hdul:
                    _ = hdu.data  # reading the data runs the DATASUM check and finds truncation
                if extension not in hdul:
                    raise VerificationError(f"{path.name}: no {extension} extension")
                carried = any("CHECKSUM" in hdu.header or "DATASUM" in hdu.header for hdu in hdul)
        except VerificationError:
            raise
        except Exception as err:  # astropy raises many kinds for a damaged file
            raise VerificationError(f"{path.name}: not a readable FITS file ({err})") from err
    damage = [str(w.message) for w in caught if any(word in str(w.message).lower() for word in _DAMAGE_WORDS)]
    if damage:
        raise VerificationError(f"{path.name}: damaged FITS file ({damage[0].strip()})")
    return carried


def verify_file(path: Path, expected_sizes: dict[str, int]) -> Verified:
    """Verify a local file against each expected size (MAST's, the source's), its FITS sums, then hash it."""
    size = path.stat().st_size
    for what, expected in expected_sizes.items():
        check_size(size, expected, f"{path.name} against {what}")
    return Verified(size=size, sha256=sha256_of(path), fits_checksum=check_fits(path))
