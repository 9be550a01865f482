"""A local destination whose file system fills up: a small tmpfs that the test mounts (the tests run as root).

The write fails with a DiskFullError that says the disk is full and names the destination, no file is left
under its final name nor as a hidden partial, a file already there is untouched, and once space is freed the
same write succeeds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightcurve_ingest.destination import parse_destination
from lightcurve_ingest.errors import DiskFullError
from lightcurve_ingest.storage import LocalStorage
from tests.helpers import mount_tmpfs, unmount

SIZE = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "disk"
    root.mkdir()
    mount_tmpfs(root, SIZE)
    try:
        yield root
    finally:
        unmount(root)


def _write(data: bytes):  # noqa: ANN202
    def fill(path: Path) -> int:
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return len(data)
    return fill


def test_a_full_disk_fails_clearly_and_leaves_no_partial_file(small_disk: Path) -> None:
    storage = LocalStorage(parse_destination(str(small_disk)))
    kept = os.urandom(SIZE // 2)
    assert storage.put("k2/kept.fits", _write(kept)) == len(kept)

    with pytest.raises(DiskFullError) as caught:
        storage.put("k2/big.fits", _write(os.urandom(SIZE)))
    message = str(caught.value)
    assert "disk full" in message and str(small_disk) in message and "k2/big.fits" in message, message

    files = sorted(p.relative_to(small_disk).as_posix() for p in small_disk.rglob("*") if p.is_file())
    assert files == ["k2/kept.fits"], files  # no big.fits, no .big.fits.part-*
    assert (small_disk / "k2" / "kept.fits").read_bytes() == kept

    storage.delete("k2/kept.fits")  # space freed: the same write now succeeds
    big = os.urandom(SIZE * 3 // 4)
    assert storage.put("k2/big.fits", _write(big)) == len(big)
    assert (small_disk / "k2" / "big.fits").read_bytes() == big
