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

from lightcurve_ingest.errors import DiskFullError
from lightcurve_ingest.storage.backends import LocalStorage
from lightcurve_ingest.storage.destination import parse_destination
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


def test_a_catalog_commit_on_a_full_disk_fails_clearly_and_keeps_the_table(small_disk: Path) -> None:
    from datetime import UTC, datetime

    from lightcurve_ingest.domain import catalog as cat
    from lightcurve_ingest.domain.catalog import Catalog

    def row(i: int) -> dict:
        return {**{c: "" for c in cat.FILE_COLUMNS}, "destination_uri": f"file:///d/{i}.fits", "mission": "K2",
                "target_id": i, "observing_unit": 1, "mast_size": 1, "size": 1, "fits_checksum_verified": True,
                "ingested_at": datetime.now(UTC), "sha256": os.urandom(32).hex() * 8, "cadence_s": 1800.0}

    storage = LocalStorage(parse_destination(str(small_disk)))
    catalog = Catalog(storage)
    assert catalog.upsert(cat.FILES_TABLE, [row(1)]) == 1
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    storage.put("k2/filler.fits", _write(b"\0" * (free - 4096)))

    with pytest.raises(DiskFullError) as caught:
        catalog.upsert(cat.FILES_TABLE, [row(i) for i in range(2, 200)])
    assert "disk full" in str(caught.value) and "_catalog/files" in str(caught.value), str(caught.value)
    assert catalog.read(cat.FILES_TABLE)["destination_uri"].tolist() == ["file:///d/1.fits"]

    storage.delete("k2/filler.fits")  # space freed: the same commit now succeeds
    assert catalog.upsert(cat.FILES_TABLE, [row(i) for i in range(2, 200)]) == 198
    assert len(catalog.read(cat.FILES_TABLE)) == 199
